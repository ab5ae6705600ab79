#!/usr/bin/env bash
# `npm start`: the whole agent in the foreground under PM2 (demo profile:
# simulator, simulated customers, local cloud simulator). Ctrl-C stops every
# app cleanly. PM2 state lives in .run/pm2 so it never touches a system PM2.
set -euo pipefail
cd "$(dirname "$0")/.."
export PM2_HOME="${PM2_HOME:-$PWD/.run/pm2}"
mkdir -p "$PM2_HOME"
# As on a board (docs/deploy.md): PM2's host metrics off, no version check over the network.
[ -f "$PM2_HOME/module_conf.json" ] || echo '{"pm2":{"sysmonit":"false"}}' > "$PM2_HOME/module_conf.json"
export PM2_DISABLE_VERSION_CHECK=1
port="${COINEREX_DASHBOARD_PORT:-3000}"
cat <<MSG

  Coinerex agent (demo) — device ${COINEREX_DEVICE_ID:-CCM_001}
  dashboard:   http://127.0.0.1:${port}/   (queues, /health, /metrics)
  in another terminal:
    bin/coinerex status              machine, counters, delivery
    bin/coinerex sim bill 500        insert a bill
    bin/coinerex cloud dispense 5    remote dispense from the cloud simulator
  Ctrl-C stops everything.

MSG
exec node node_modules/pm2/bin/pm2-runtime start ecosystem.config.js --env demo
