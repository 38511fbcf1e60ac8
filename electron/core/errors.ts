import type { ErrorCode, ErrorShape } from '../contract/errors';

/** Where a hint sends the admin for the details: the log file, found and exported from Settings → Diagnostics. */
export const SEE_LOG = 'the log has the details (Settings → Diagnostics shows it and exports it to send)';

/** An error a person can act on: a stable code, what happened, and what to do next. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  readonly hint: string | undefined;
  readonly field: string | undefined;

  constructor(code: ErrorCode, userMessage: string, opts: { cause?: unknown; hint?: string; field?: string } = {}) {
    super(userMessage, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.userMessage = userMessage;
    this.hint = opts.hint;
    this.field = opts.field;
  }

  toShape(): ErrorShape {
    return {
      code: this.code,
      userMessage: this.userMessage,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.field === undefined ? {} : { field: this.field }),
    };
  }
}

/** Anything thrown becomes a shape the renderer can show; unexpected errors never leak internals. */
export const toErrorShape = (err: unknown): ErrorShape =>
  err instanceof AppError
    ? err.toShape()
    : {
        code: 'internal',
        userMessage: 'Something went wrong inside M2 Companion.',
        hint: `Try again. If it keeps happening, ${SEE_LOG}.`,
      };
