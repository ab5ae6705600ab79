/**
 * Command error codes (docs/protocol.md#command-error-codes): errors are values with a code; code
 * branches on the code, never on the text. The text is the Chinese shown to
 * the operator.
 */
export const commandErrorCodes = {
  INVALID_COMMAND: '指令格式錯誤',
  UNKNOWN_COMMAND: '未知的指令類型',
  UNAUTHENTICATED: '指令簽章驗證失敗',
  EXPIRED: '指令已逾時',
  MACHINE_LOCKED: '機台已鎖定',
  MACHINE_FAULT: '機台故障中',
  INSUFFICIENT_COINS: '硬幣存量不足',
  LIMIT_EXCEEDED: '超過出幣上限',
  NOT_PERMITTED: '不允許的操作',
  BUSY: '機台忙碌中',
  HARDWARE_FAILURE: '硬體故障',
} as const;
export type CommandErrorCode = keyof typeof commandErrorCodes;

/** An error whose machine-readable code stands beside its message: a wire protocol's kinds of failure. */
export class CodedError<C extends string> extends Error {
  constructor(
    readonly code: C,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class CommandError extends Error {
  constructor(
    readonly code: CommandErrorCode,
    detail?: string,
    /** Machine-readable facts added to the result, e.g. EXPIRED's measured clock difference. */
    readonly facts: Record<string, unknown> = {},
  ) {
    super(detail ? `${commandErrorCodes[code]}: ${detail}` : commandErrorCodes[code]);
    this.name = 'CommandError';
  }

  /** The `result` of a failed command result message. */
  toResult(): { error_code: CommandErrorCode; error: string } & Record<string, unknown> {
    return { ...this.facts, error_code: this.code, error: this.message };
  }
}

/** A command-line tool was called wrongly (`coinerex …`, bench, chaos): the message names the bad argument and the tool prints its usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
