#!/usr/bin/python3
"""A cloud for the Coinerex agent, written from the zh-TW engineering guide
(IPC工程師MQTT協議實作指南) and not from the agent's code: topics
coinerex/{type}/{device_id}, the envelope of section 4, ACKs on
coinerex/ack/{device_id}, commands on coinerex/commands/{device_id}/{type},
results on coinerex/commands/{device_id}/ack.

It ACKs in the dialects real clouds send, sends the guide's commands, validates
every message the agent sends against docs/schemas/ and checks the delivery
promises. Prints one JSON report on stdout; exits 1 when a check failed.

Needs Debian's python3-paho-mqtt and python3-jsonschema.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import jsonschema
import paho.mqtt.client as mqtt

ACK_REQUIRED = {"accounting", "transaction", "error", "alarm"}
UTC8 = timezone(timedelta(hours=8))


def now_ts():
    # The guide's get_timestamp(): int(datetime.now(utc8_tz).timestamp()) is plain Unix time.
    return int(datetime.now(UTC8).timestamp())


def ack_dialects(message_id):
    """The ACKs real clouds send; each settles the message."""
    return [
        {"timestamp": now_ts(), "ack_message_id": message_id, "status": "received", "error_message": None},
        {"timestamp": now_ts(), "ack_message_id": message_id},
        {"message_id": message_id, "status": "processed"},
        {"timestamp": datetime.now(UTC8).isoformat(), "ack_message_id": message_id, "status": "success", "result": None},
        {"timestamp": str(now_ts()), "ack_message_id": None, "message_id": message_id, "status": "RECEIVED"},
    ]


class Cloud:
    def __init__(self, args):
        self.args = args
        self.dev = args.device
        self.lock = threading.RLock()
        self.failures = []
        self.received = []  # (time, type, payload)
        self.acked_at = {}  # message_id -> time of the settling ACK
        self.sent_after_ack = []
        self.nacked = set()
        self.dialects_used = {}
        self.results = {}
        self.validators = {}
        for name in os.listdir(args.schemas):
            if name.endswith(".json"):
                with open(os.path.join(args.schemas, name), encoding="utf-8") as f:
                    schema = json.load(f)
                jsonschema.Draft202012Validator.check_schema(schema)
                self.validators[name[:-5]] = jsonschema.Draft202012Validator(schema)
        try:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=f"py-cloud-{self.dev}")
        except AttributeError:  # paho-mqtt 1.x
            self.client = mqtt.Client(client_id=f"py-cloud-{self.dev}")
        self.client.on_connect = self.on_connect
        self.client.on_message = self.on_message

    def fail(self, what):
        print(f"FAIL {what}", file=sys.stderr, flush=True)
        with self.lock:
            self.failures.append(what)

    def step(self, what):
        print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)

    def on_connect(self, client, userdata, flags, rc):
        # The guide's mosquitto_sub -t "coinerex/+/CCM_001", plus the command results.
        client.subscribe(f"coinerex/+/{self.dev}", qos=0)
        client.subscribe(f"coinerex/commands/{self.dev}/ack", qos=0)

    def validate(self, kind, payload):
        v = self.validators.get(kind)
        if v is None:
            self.fail(f"no schema for {kind}")
            return
        errors = sorted(v.iter_errors(payload), key=lambda e: list(e.path))
        for e in errors[:3]:
            self.fail(f"{kind} does not match docs/schemas/{kind}.json at {'/'.join(map(str, e.path))}: {e.message[:200]}")

    def on_message(self, client, userdata, msg):
        parts = msg.topic.split("/")
        if parts[1] == "ack":
            return  # our own ACKs, matched by coinerex/+/{device}
        try:
            payload = json.loads(msg.payload.decode("utf-8"))
        except Exception as e:  # noqa: BLE001
            self.fail(f"not JSON on {msg.topic}: {e}")
            return
        at = time.time()
        if parts[1] == "commands":
            self.validate("command_result", payload)
            with self.lock:
                self.results.setdefault(payload.get("ack_command_id"), []).append(payload)
                self.received.append((at, "command_result", payload))
            return
        kind = parts[1]
        if payload.get("message_type") != kind:
            self.fail(f"message_type {payload.get('message_type')} on topic {msg.topic}")
        self.validate(kind, payload)
        mid = payload.get("message_id")
        with self.lock:
            self.received.append((at, kind, payload))
            # A message the cloud ACKed must not come again (a resend crossing the ACK may: 1 s of grace).
            if mid in self.acked_at and at - self.acked_at[mid] > 1.0:
                self.sent_after_ack.append(mid)
        if kind in ACK_REQUIRED:
            self.ack(kind, mid)

    def ack(self, kind, mid):
        with self.lock:
            if mid in self.acked_at:
                dialect = 0
            elif kind == "transaction" and "failed" not in self.dialects_used:
                # The first transaction is refused once: the agent must send it again.
                self.nacked.add(mid)
                self.dialects_used["failed"] = 1
                body = {"ack_message_id": mid, "status": "failed", "error_message": "database busy"}
                self.client.publish(f"coinerex/ack/{self.dev}", json.dumps(body), qos=0)
                return
            else:
                dialect = len(self.acked_at) % 5
            self.acked_at.setdefault(mid, time.time())
            self.dialects_used[dialect] = self.dialects_used.get(dialect, 0) + 1
        self.client.publish(f"coinerex/ack/{self.dev}", json.dumps(ack_dialects(mid)[dialect]), qos=0)

    # --- commands -----------------------------------------------------
    def command(self, ctype, body, via_mosquitto_pub=False, timeout=20.0):
        topic = f"coinerex/commands/{self.dev}/{ctype}"
        text = json.dumps(body, ensure_ascii=False)
        if via_mosquitto_pub:
            subprocess.run(["mosquitto_pub", "-h", self.args.host, "-p", str(self.args.port), "-t", topic, "-m", text], check=True)
        else:
            self.client.publish(topic, text, qos=0)
        self.step(f"command {body['command_id']}")
        return self.wait(lambda: (self.results.get(body["command_id"]) or [None])[0], timeout, f"result of {body['command_id']}")

    def wait(self, check, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                v = check()
            if v:
                return v
            time.sleep(0.05)
        self.fail(f"timed out waiting for {what}")
        return None

    def expect(self, result, status, code=None, what=""):
        if result is None:
            return
        if result.get("status") != status:
            self.fail(f"{what}: status {result.get('status')} {result.get('result')}, expected {status}")
        elif code is not None and result.get("result", {}).get("error_code") != code:
            self.fail(f"{what}: error_code {result.get('result', {}).get('error_code')}, expected {code}")

    def of(self, kind):
        with self.lock:
            return [p for (_, k, p) in self.received if k == kind]

    def exchanges(self):
        return [p for p in self.of("transaction") if p["data"]["transaction_type"] == "exchange"]

    # --- the scenario -------------------------------------------------
    def run(self):
        a = self.args
        self.client.connect(a.host, a.port, keepalive=30)
        self.client.loop_start()
        self.step("waiting for the agent")
        self.wait(lambda: self.of("heartbeat"), 90, "the first heartbeat")

        # The guide's test command, verbatim, with mosquitto_pub.
        r = self.command("coin_dispense", {"command_id": "TEST_001", "command_type": "coin_dispense", "data": {"coins_to_dispense": 5}}, via_mosquitto_pub=True)
        self.expect(r, "success", what="TEST_001")
        if r and r["result"].get("coins_dispensed") != 5:
            self.fail(f"TEST_001 dispensed {r['result'].get('coins_dispensed')}")

        # Python's None and numbers as strings.
        r = self.command("coin_dispense", {"command_id": "PY_DIALECT", "command_type": "coin_dispense", "timestamp": None, "requires_ack": True,
                                           "data": {"coins_to_dispense": "3", "reason": None, "operator_account": None}})
        self.expect(r, "success", what="dispense with None fields and \"3\"")

        r = self.command("lock", {"command_id": "PY_LOCK", "command_type": "lock", "timestamp": now_ts(),
                                  "data": {"action": "lock", "duration_minutes": None, "reason": "interop", "operator_id": None}})
        self.expect(r, "success", what="lock")
        r = self.command("coin_dispense", {"command_id": "PY_LOCKED", "command_type": "coin_dispense", "data": {"coins_to_dispense": 4}})
        self.expect(r, "failed", "MACHINE_LOCKED", what="dispense while locked")
        r = self.command("lock", {"command_id": "PY_UNLOCK", "command_type": "lock", "data": {"action": "unlock"}})
        self.expect(r, "success", what="unlock")

        r = self.command("coin_dispense", {"command_id": "PY_FIVE", "command_type": "coin_dispense", "data": {"coins_to_dispense": "five"}})
        self.expect(r, "failed", "INVALID_COMMAND", what="coins_to_dispense \"five\"")
        if r and "coins_to_dispense" not in r["result"].get("error", ""):
            self.fail(f"INVALID_COMMAND does not name the field: {r['result']}")

        # A cloud that shifted Unix time by 8 hours for "UTC+8".
        r = self.command("coin_dispense", {"command_id": "PY_UTC8", "command_type": "coin_dispense", "timestamp": now_ts() + 8 * 3600, "data": {"coins_to_dispense": 2}})
        self.expect(r, "failed", "EXPIRED", what="timestamp shifted by 8 hours")
        if r and abs(r["result"].get("clock_difference_seconds", 0) + 8 * 3600) > 60:
            self.fail(f"EXPIRED without the measured clock difference: {r['result']}")

        r = self.command("query", {"command_id": "PY_QUERY", "command_type": "query", "data": {"query_type": "full_status"}})
        self.expect(r, "success", what="query")

        self.step("waiting for exchanges")
        self.wait(lambda: len(self.exchanges()) >= a.exchanges, 60, f"{a.exchanges} exchanges")
        if self.nacked:
            self.wait(lambda: all(m in self.acked_at for m in self.nacked), 30, "the refused transaction sent again")

        r = self.command("restart", {"command_id": "PY_RESTART", "command_type": "restart", "data": {"restart_type": "soft", "delay_seconds": 0}})
        self.expect(r, "success", what="restart")
        # The apps restart after the result: exchanges that start well after it were served by the restarted agent.
        later = (r or {}).get("timestamp", now_ts()) + 10
        self.step("waiting for exchanges after the restart")
        self.wait(lambda: len([t for t in self.exchanges() if t["data"]["timing"]["start_time"] >= later]) >= 2, 90, "exchanges after the restart")

        self.step("quiet period")
        time.sleep(a.quiet)
        self.client.loop_stop()
        self.client.disconnect()
        return self.check()

    def check(self):
        if self.sent_after_ack:
            self.fail(f"sent again after its ACK: {sorted(set(self.sent_after_ack))[:5]}")
        txns = self.of("transaction")
        # A message sent again (after the refused ACK) is one transaction: count each message_id once.
        by_id = {t["message_id"]: t["data"] for t in txns}
        remote = [d for d in by_id.values() if d["transaction_type"] == "remote_dispense"]
        paid_by = {}
        for d in remote:
            paid_by[d.get("command_id")] = paid_by.get(d.get("command_id"), 0) + d["amounts"]["coins_dispensed"]
        for cid, coins in (("TEST_001", 5), ("PY_DIALECT", 3)):
            if paid_by.get(cid) != coins:
                self.fail(f"{cid}: remote transactions paid {paid_by.get(cid)} coins, expected {coins}")
        for cid in ("PY_LOCKED", "PY_FIVE", "PY_UTC8"):
            if cid in paid_by:
                self.fail(f"refused command {cid} moved {paid_by[cid]} coins")
        unique = {t["data"]["transaction_id"] + "/" + t["data"]["transaction_type"]: t["data"] for t in txns}
        # The books: an accounting follows its transaction, so at the last accounting the coins of the
        # transactions received so far are its counters.total_dispensed (customers keep coming meanwhile).
        seen, dispensed, last = {}, 0, {}
        for (_, k, p) in self.received:
            if k == "transaction":
                seen[p["data"]["transaction_id"] + "/" + p["data"]["transaction_type"]] = p["data"]["amounts"]["coins_dispensed"]
            elif k == "accounting":
                dispensed, last = sum(seen.values()), p["data"]["counters"]
        if last.get("total_dispensed") != dispensed:
            self.fail(f"sum of coins_dispensed over transactions {dispensed} != counters.total_dispensed {last.get('total_dispensed')}")
        for i in range(5):
            if not self.dialects_used.get(i):
                self.fail(f"ACK dialect {i} never used")
        counts = {}
        for (_, k, _p) in self.received:
            counts[k] = counts.get(k, 0) + 1
        return {
            "ok": not self.failures,
            "failures": self.failures,
            "received": counts,
            "message_ids": {k: sorted({p["message_id"] for p in self.of(k)}) for k in ACK_REQUIRED},
            "acks": {str(k): v for k, v in self.dialects_used.items()},
            "transactions": len(unique),
            "coins_in_transactions": dispensed,
            "total_dispensed": last.get("total_dispensed"),
            "results": {cid: rs[0] for cid, rs in self.results.items()},
        }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--schemas", required=True)
    p.add_argument("--exchanges", type=int, default=4)
    p.add_argument("--quiet", type=float, default=4.0, help="seconds to watch for resends at the end")
    report = Cloud(p.parse_args()).run()
    print(json.dumps(report, ensure_ascii=False))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
