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

echo "coinerex: building"
node node_modules/typescript/bin/tsc -p tsconfig.json

bash scripts/services.sh
