/** Structured log lines; callers pass facts, never secrets (Secret values print as [REDACTED]). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type LogLine = { level: 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown>; time: string };

/** A logger writing JSON lines to a sink (stderr by default); tests collect lines in memory. */
export function createLogger(sink: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  const write = (level: LogLine['level']) => (message: string, fields?: Record<string, unknown>) => {
    const line: LogLine = { level, message, time: new Date().toISOString(), ...(fields ? { fields } : {}) };
    sink(JSON.stringify(line, errorReplacer));
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

// An error's cause is kept: a failed remote command rides there (its command, status and stderr, secrets masked).
const errorReplacer = (_key: string, value: unknown): unknown =>
  value instanceof Error ? { name: value.name, message: value.message, stack: value.stack, ...(value.cause !== undefined ? { cause: value.cause } : {}) } : value;

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
