/**
 * Every Redis key the agent uses, in one place (names live in one
 * place, docs/architecture.md#names-live-in-one-place). All live under `{prefix}:{deviceId}:` so tests and several devices
 * can share a Redis without touching each other.
 */
export function redisKeys(prefix: string, deviceId: string) {
  const base = `${prefix}:${deviceId}`;
  return {
    base,
    /** BullMQ's prefix for this device's queues. */
    bullPrefix: `${base}:bull`,
    txnSeq: (kind: string, day: string) => `${base}:seq:${kind}:${day}`,
    /** Durable `seq` extension counter (docs/protocol.md#the-seq-extension). */
    messageSeq: `${base}:seq:message`,
    // Delivery state owned by the mqtt app (docs/protocol.md#4-ack-and-retransmission).
    outMessage: (id: string) => `${base}:out:msg:${id}`,
    /** zset: unsettled ACK-required message ids scored by production order. */
    outOrder: `${base}:out:order`,
    /** zset: in-flight message ids scored by the epoch ms of their next action. */
    outDue: `${base}:out:due`,
    /** hash: failed (given-up) messages by id. */
    outFailed: `${base}:out:failed`,
    /** zset: failed ids by give-up ms, so only the newest COINEREX_OUT_FAILED_LIMIT are kept (older dropped, counted as failed_dropped). */
    outFailedOrder: `${base}:out:failed:order`,
    /** hash: delivery counters (acked, retransmits, giveups, dropped, superseded, skipped_<type>, ...). */
    outStats: `${base}:out:stats`,
    /** zset: offline buffer, message ids waiting to be sent, scored by production order (docs/protocol.md#offline-buffer). */
    outBuffer: `${base}:out:buffer`,
    /** list: command results waiting for the link, oldest first (bounded by COINEREX_RESULT_BUFFER_LIMIT). */
    resultBuffer: `${base}:out:results`,
    /** Production-order counter of ACK-required messages (the outOrder/outBuffer score). */
    outCounter: `${base}:out:counter`,
    /** Short-lived tombstone of a settled, failed, dropped or superseded id: a re-run outbox job never resends it. */
    outDone: (id: string) => `${base}:out:done:${id}`,
    // Machine state owned by the business app.
    machine: `${base}:machine`,
    counters: `${base}:counters`,
    journal: `${base}:journal`,
    journalEntry: (id: string) => `${base}:journal:${id}`,
    appliedEvent: (eventId: string) => `${base}:applied:${eventId}`,
    daily: (day: string) => `${base}:daily:${day}`,
    activeCodes: `${base}:codes`,
    lock: `${base}:lock`,
    settings: `${base}:settings`,
    command: (commandId: string) => `${base}:cmd:${commandId}`,
    /** hash: remote coins reserved/paid per local day (YYYYMMDD) against the daily dispense limit. */
    dispenseQuota: (day: string) => `${base}:quota:dispense:${day}`,
    // Exchange engine (business app): payout lane, open transactions, transactional outbox.
    /** list: payout ids of the one payout lane, head first (exchange, debt and remote share it). */
    payoutLane: `${base}:payout:lane`,
    /** hash: one payout intent (purpose, ref, coins, state queued|sent|done, sentAt, paid). */
    payoutIntent: (payoutId: string) => `${base}:payout:${payoutId}`,
    /** hash: a transaction from its credit (or remote command) until its payout settles. */
    openTransaction: (txnId: string) => `${base}:txn:${txnId}`,
    /** hash: a remote dispense by command id (at most once, ever; docs/protocol.md#7-commands) and its outcome. */
    remoteDispense: (commandId: string) => `${base}:remote:${commandId}`,
    /**
     * hash {coins, acknowledged 0|1}: debt whose payout ended with an unknown outcome (error 51). Written in the
     * settlement's own script; the lane holds these coins until a person says whether they were paid.
     */
    debtDoubt: `${base}:debt:doubt`,
    /** hash: a decision about error 51 by the command id that made it, so a re-run answers it again instead of refusing. */
    doubtDecision: (commandId: string) => `${base}:debt:decision:${commandId}`,
    /** list: ACK-required messages committed with the state change, not yet on the outbox queue. */
    unsent: `${base}:unsent`,
    /** guard: a message already committed, so a replayed script emits nothing. */
    emitted: (messageId: string) => `${base}:emitted:${messageId}`,
    /** hash: what raised an active code (`error:41` -> link|hardware|jam), so link up clears only its own. */
    codeSources: `${base}:codes:source`,
    /** guard + message id of a day's daily-close accounting. */
    dailyClose: (day: string) => `${base}:dailyclose:${day}`,
    // Hardware simulator's physical truth, owned by the hardware app.
    simTruth: `${base}:sim:truth`,
    simPayout: (payoutId: string) => `${base}:sim:payout:${payoutId}`,
    /** zset: payout ids the simulator accepted, scored by acceptance ms (trimmed to the latest 200). */
    simPayouts: `${base}:sim:payouts`,
    /** set: payout ids accepted but not finished; on start they are marked stopped (a hopper stops on power loss). */
    simOpenPayouts: `${base}:sim:payouts:open`,
    // ccTalk driver (workers/hardware/cctalk/store.ts), owned by the hardware app.
    /** hash: event counters of the devices and the hopper's payout run, committed with their events. */
    cctalkState: `${base}:cctalk:state`,
    /** hash: payoutId -> JSON record (requested, paid, done, reason). */
    cctalkPayouts: `${base}:cctalk:payouts`,
    /** list: payout ids, newest first; the oldest records are dropped beyond 500. */
    cctalkPayoutOrder: `${base}:cctalk:payouts:order`,
    // Hardware app: events recorded but not yet added to `hw-events` (re-delivered on start).
    hwPending: `${base}:hw:pending`,
    /** Business app: hash {jobId, kind, since, attempts, error} of an `hw-events` job it keeps failing to apply (fails /health). */
    eventStuck: `${base}:hw:events:stuck`,
    /** list: pending entries that could not be parsed, kept for inspection instead of being dropped. */
    hwPendingBad: `${base}:hw:pending:bad`,
    // Operations.
    /** list: soft-restart requests from the business app, carried out by the supervisor (JSON {requestId, at, reason}). */
    restartRequests: `${base}:restart:requests`,
    metrics: `${base}:metrics`,
    /** hash: app name -> JSON AppHealth (pid, status, uptime, restarts, memory), written by the supervisor (shared/app-health.ts). */
    appsHealth: `${base}:apps:health`,
    /** hash: app name -> restarts the supervisor's watchdog has carried out (durable count). */
    appRestarts: `${base}:apps:restarts`,
    /** hash {connected: 0|1, since: epoch ms}: the broker link as the mqtt app sees it (shared/app-health.ts). */
    mqttLink: `${base}:mqtt:link`,
    /** string: the cloud simulator's ACK policy (`ack-all`, `ack-none`, `error`, `delay <ms>`); demo only. */
    cloudSimPolicy: `${base}:cloudsim:policy`,
    /** pub/sub channel: runtime settings changed. */
    settingsChannel: `${base}:settings:changed`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
