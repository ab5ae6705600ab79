/** One readable line per device message: its type and the fields an operator looks at. */

type Obj = Record<string, any>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const fields = (pairs: Array<[string, unknown]>): string =>
  pairs
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');

function describeData(type: string, d: Obj): string {
  switch (type) {
    case 'transaction': {
      const a = obj(d.amounts);
      return fields([
        ['id', d.transaction_id],
        ['kind', d.transaction_type],
        ['command', d.command_id],
        ['bills', a.bills_inserted],
        ['coins_in', a.coins_inserted],
        ['dispensed', a.coins_dispensed],
        ['balance', `${obj(d.balance).before}->${obj(d.balance).after}`],
        ['success', d.success],
        ['debt', d.debt_coins],
      ]);
    }
    case 'accounting': {
      const c = obj(d.counters);
      const s = obj(d.current_state);
      return fields([
        ['report', d.report],
        ['status', d.status_description ?? d.machine_status],
        ['bills', c.total_bills],
        ['coins', c.total_coins],
        ['dispensed', c.total_dispensed],
        ['remote', c.remote_dispensed],
        ['bonus', c.bonus_coins],
        ['debt', s.debt_coins],
        ['balance', s.balance],
        ['error', obj(d.codes).error_code || undefined],
        ['alarm', obj(d.codes).alarm_code || undefined],
      ]);
    }
    case 'error':
      return fields([['code', d.error_code], ['state', d.state], ['desc', d.error_description], ['severity', d.severity]]);
    case 'alarm':
      return fields([['code', d.alarm_code], ['state', d.state], ['desc', d.alarm_description], ['severity', d.severity]]);
    case 'heartbeat':
      return fields([
        ['status', d.status],
        ['uptime', d.uptime_seconds],
        ['network', d.network_quality],
        ['issues', Array.isArray(d.active_issues) ? d.active_issues.length : undefined],
        ['today_txn', obj(d.statistics).transactions_today],
      ]);
    case 'status':
      return fields([
        ['status', d.status_description ?? d.machine_status],
        ['locked', obj(d.lock).locked],
        ['door', obj(d.door).state],
        ['coins', obj(d.coin_inventory).coins],
        ['level', obj(d.coin_inventory).level],
        ['available', d.service_available],
      ]);
    default:
      return JSON.stringify(d).slice(0, 200);
  }
}

/** `type key=value …` for an envelope, or a command result line. */
export function describeMessage(type: string, payload: unknown): string {
  const p = obj(payload);
  if (type === 'command_result') {
    const r = obj(p.result);
    const detail = p.status === 'failed' ? fields([['error', r.error_code], ['why', r.error]]) : JSON.stringify(r).slice(0, 200);
    return `command_result ${fields([['command', p.ack_command_id], ['type', p.command_type], ['status', p.status]])} ${detail}`;
  }
  const seq = p.seq === undefined ? '' : ` seq=${p.seq}`;
  return `${type}${seq} ${describeData(type, obj(p.data))}`;
}
