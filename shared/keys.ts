/**
 * Every Redis key the agent uses, in one place (STYLE.md: names live in one
 * place). All live under `{prefix}:{deviceId}:` so tests and several devices
 * can share a Redis without touching each other.
 */
export function redisKeys(prefix: string, deviceId: string) {
  const base = `${prefix}:${deviceId}`;
  return {
    base,
    /** BullMQ's prefix for this device's queues. */
    bullPrefix: `${base}:bull`,
    txnSeq: (kind: string, day: string) => `${base}:seq:${kind}:${day}`,
    /** Durable `seq` extension counter (PROTOCOL.md §3). */
    messageSeq: `${base}:seq:message`,
    // Delivery state owned by the mqtt app (PROTOCOL.md §4).
    outMessage: (id: string) => `${base}:out:msg:${id}`,
    /** zset: unsettled ACK-required message ids scored by production order. */
    outOrder: `${base}:out:order`,
    /** zset: in-flight message ids scored by the epoch ms of their next action. */
    outDue: `${base}:out:due`,
    /** hash: failed (given-up) messages by id. */
    outFailed: `${base}:out:failed`,
    outStats: `${base}:out:stats`,
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
    // Hardware simulator's physical truth, owned by the hardware app.
    simTruth: `${base}:sim:truth`,
    simPayout: (payoutId: string) => `${base}:sim:payout:${payoutId}`,
    // Operations.
    liveness: (app: string) => `${base}:live:${app}`,
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
