"""A hostile (or broken) central floods the gateway with commands: each gets its own
answer, ok or rate_limited with its id, and outgoing events keep flowing.

Against a real mosquitto. No timing is asserted: the test shows that every command
is answered exactly once, that only what was answered ok was applied, that a refused
id may be sent again, and that every event committed during the flood is delivered.
"""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

from lobby.config import load_config
from lobby.runtime import Runtime
from mqtt_bridge import schemas
from mqtt_bridge.store import outbox
from tests.helpers.broker import Broker
from tests.helpers.central import Central, now_ts

FLOOD = 3000


def _notice(cmd_id: str) -> bytes:
    return json.dumps({"id": cmd_id, "ts": now_ts(),
                       "data": {"notice_id": f"n-{cmd_id}", "title": "Lift maintenance 维修"}}).encode()


def test_a_command_flood_is_answered_command_by_command_while_events_flow(tmp_path: Path, broker: Broker,
                                                                          write_config) -> None:  # noqa: ANN001
    config = write_config(broker.port, mqtt_extra="command_max_per_s = 20\ncommand_queue_max = 50")
    rt = Runtime(load_config(config), config)
    central = Central(broker.port, rt.cfg.base_topic)
    try:
        rt.start()
        central.wait_for(lambda: f"{rt.cfg.base_topic}/status" in central.retained, what="gateway online")
        topic = f"{rt.cfg.base_topic}/cmd/notice.show"
        ids = [f"flood-{i}" for i in range(FLOOD)]
        committed: list[int] = []
        for i, cmd_id in enumerate(ids):
            central.client.publish(topic, _notice(cmd_id), qos=1)
            if i % 100 == 0:  # the gateway's own events go on during the flood
                committed.append(rt.store.emit("health", "gateway.started", {"version": "t", "config_version": i}).seq)
        answers: dict[str, list[dict]] = {}
        deadline = time.monotonic() + 300  # a bound on the wait, not an assertion on time
        while sum(len(v) for v in answers.values()) < FLOOD and time.monotonic() < deadline:
            try:
                name, body = central.results.get(timeout=0.5)
            except queue.Empty:
                continue
            assert name == "notice.show"
            answers.setdefault(body["id"], []).append(body)
        central.wait_seqs(max(committed))

        assert sorted(answers) == sorted(ids)  # every command answered, each with its own id ...
        assert all(len(v) == 1 for v in answers.values())  # ... exactly once
        bodies = [v[0] for v in answers.values()]
        assert all(schemas.first_error("command_result.json", b) is None for b in bodies)
        applied = [b["id"] for b in bodies if b["ok"]]
        refused = [b for b in bodies if not b["ok"]]
        assert applied and refused
        assert all(b["error"].startswith("rate_limited: ") for b in refused)
        # only what was answered ok was applied and recorded; refusals leave no trace
        assert rt.store.scalar("SELECT count(*) FROM notices") == len(applied)
        assert rt.store.scalar("SELECT count(*) FROM commands WHERE name = 'notice.show'") == len(applied)
        # every event committed during the flood reached central
        assert all(central.tracker.has(s) for s in committed)
        assert not central.tracker.missing(outbox.last_seq(rt.store.connection()))
        # a refused command sent again later runs (same id)
        time.sleep(1.1)  # the bucket refills; not an assertion on time
        again = refused[0]["id"]
        result = central.command("notice.show", cmd_id=again, raw=_notice(again))
        assert result == {"id": again, "ok": True, "result": {"notice_id": f"n-{again}"}}
    finally:
        rt.stop()
        central.close()
    assert central.invalid == [], central.invalid[:5]
