#!/usr/bin/env bash
# Makes sure a local Redis (127.0.0.1:6379) and MQTT broker (127.0.0.1:1883)
# answer: starts them when installed but stopped, installs them with apt-get
# when missing and running as root, otherwise prints exactly what to run.
set -euo pipefail
cd "$(dirname "$0")/.."

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.1; done
  return 1
}
run_dir="$PWD/.run"
mkdir -p "$run_dir"

install_pkgs() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "coinerex: $* not installed. Run:  sudo apt-get update && sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "coinerex: installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! port_open 6379; then
  command -v redis-server >/dev/null || install_pkgs redis-server
  # apt may have started it as a service already.
  if ! wait_port 6379; then
    echo "coinerex: starting redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$run_dir" \
      --logfile "$run_dir/redis.log" --save '' --appendonly no --maxmemory-policy noeviction
    wait_port 6379 || { echo "coinerex: redis-server did not start; see $run_dir/redis.log" >&2; exit 1; }
  fi
fi

if ! port_open 1883; then
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || install_pkgs mosquitto mosquitto-clients
  if ! wait_port 1883; then
    echo "coinerex: starting mosquitto on 127.0.0.1:1883"
    cat > "$run_dir/mosquitto.conf" <<CONF
listener 1883 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
log_dest file $run_dir/mosquitto.log
CONF
    "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -d -c "$run_dir/mosquitto.conf"
    wait_port 1883 || { echo "coinerex: mosquitto did not start; see $run_dir/mosquitto.log" >&2; exit 1; }
  fi
fi

# `--test`: also what `npm test` needs beyond the services, the interop
# suite's Python cloud (test/interop/cloud.py) on Debian's python3 with
# python3-paho-mqtt and python3-jsonschema.
if [ "${1:-}" = --test ]; then
  python=${COINEREX_TEST_PYTHON:-/usr/bin/python3}
  "$python" -c 'import paho.mqtt.client, jsonschema' 2>/dev/null || install_pkgs python3 python3-paho-mqtt python3-jsonschema
fi
