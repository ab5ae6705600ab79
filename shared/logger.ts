/** Structured logs (pino): JSON for PM2 and journald; pretty only when asked (COINEREX_LOG_PRETTY=1). */
import { pino, type Logger } from 'pino';

export function makeLogger(app: string, level: string, pretty = process.env.COINEREX_LOG_PRETTY === '1'): Logger {
  return pino({
    name: app,
    level,
    base: { app },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
export type { Logger };
