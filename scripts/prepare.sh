#!/usr/bin/env bash
# Gets a checkout ready to run: Node version, dependencies, build, and the
# local Redis and MQTT broker. Runs before `npm start` and `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  if (maj < 20 || (maj === 20 && min < 19)) {
    console.error(`coinerex: Node ${process.versions.node} is too old; Node >= 20.19 is required`);
    process.exit(1);
  }'

# Dependencies: install when missing or when the lock file changed since.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "coinerex: installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

# Build when anything the build reads is newer than the last successful build.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find shared queue workers supervisor dashboard cloud-sim cli tools test tsconfig.json package-lock.json \
      -newer "$stamp" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
  echo "coinerex: building"
  # `npm run build` builds from scratch, so a deleted source never leaves a stale module (or test) behind.
  npm run --silent build
fi

# `npm test` also needs the interop suite's Python packages.
if [ "${npm_lifecycle_event:-}" = pretest ]; then bash scripts/services.sh --test; else bash scripts/services.sh; fi
