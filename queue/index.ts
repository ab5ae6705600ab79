export * from './names.js';
export * from './jobs.js';
export * from './connection.js';
export * from './stalled-check.js';
export * from '../shared/redis.js';
