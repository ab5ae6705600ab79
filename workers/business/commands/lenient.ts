/**
 * The command dialects real clouds send (docs/cloud-interop.md), folded into
 * the one form the schemas check: `null` in an optional field is the field
 * being absent, and a number sent as a numeric string ("5") is that number.
 * A string that is not a number stays a string, so the schema refuses it
 * with INVALID_COMMAND naming the field. Works on a copy, before
 * validation; the signature is always checked over the body as sent.
 */

/** Top-level fields whose `null` means absent (`signature: null` is then "missing"). */
const OPTIONAL_TOP = ['timestamp', 'requires_ack', 'priority', 'signature'] as const;
/** `data` fields whose `null` means absent. Required ones (coins_to_dispense, action) keep their null and are refused. */
const OPTIONAL_DATA = [
  'timeout_seconds', 'reason', 'operator_account', 'operator_id', 'message_display', 'duration_minutes',
  'coin_value', 'restart_type', 'delay_seconds', 'query_type', 'since', 'until', 'limit', 'include_diagnostics',
] as const;
/** Fields the guide's examples give as numbers. */
const NUMERIC_TOP = ['timestamp'] as const;
const NUMERIC_DATA = ['coins_to_dispense', 'coin_value', 'timeout_seconds', 'delay_seconds', 'duration_minutes', 'limit', 'since', 'until'] as const;

/** Plain decimals only: `Number()` would also take "0x10", "1e3", " 5" and "". */
const NUMERIC = /^-?\d{1,15}(\.\d{1,9})?$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fold(from: Record<string, unknown>, optional: readonly string[], numeric: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(from)) {
    if (value === null && optional.includes(key)) continue;
    const v = typeof value === 'string' && numeric.includes(key) && NUMERIC.test(value) ? Number(value) : value;
    // Defined, not assigned: a `__proto__` key stays a key (and is refused by the schema).
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The body with the dialects folded; anything that is not an object is returned as is. */
export function foldDialects(body: unknown): unknown {
  if (!isObject(body)) return body;
  const top = fold(body, OPTIONAL_TOP, NUMERIC_TOP);
  if (isObject(top.data)) top.data = fold(top.data, OPTIONAL_DATA, NUMERIC_DATA);
  else if (top.data === null) delete top.data;
  return top;
}
