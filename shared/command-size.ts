/**
 * The largest command payload the agent takes, bytes. A real command is well
 * under 1 KiB. The mqtt app drops anything larger before parsing or queueing
 * it (workers/mqtt/inbound/size-limit.ts); the business app checks it again.
 */
export const MAX_COMMAND_BYTES = 16 * 1024;
