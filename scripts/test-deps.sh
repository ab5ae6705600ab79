#!/usr/bin/env bash
# What `npm test` needs beyond the services: the interop suite's Python cloud
# (test/interop/cloud.py) runs on Debian's python3 with python3-paho-mqtt and
# python3-jsonschema. Installs them with apt-get when missing and running as
# root, otherwise prints exactly what to run.
set -euo pipefail

python=${COINEREX_TEST_PYTHON:-/usr/bin/python3}
if "$python" -c 'import paho.mqtt.client, jsonschema' 2>/dev/null; then exit 0; fi
pkgs=(python3 python3-paho-mqtt python3-jsonschema)
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "coinerex: the interop suite needs ${pkgs[*]}. Run:  sudo apt-get update && sudo apt-get install -y ${pkgs[*]}" >&2
  exit 1
fi
echo "coinerex: installing ${pkgs[*]} with apt-get"
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
