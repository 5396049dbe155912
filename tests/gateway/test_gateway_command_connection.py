"""The commands' thread lets go of its store connection between commands.

Central's commands come minutes or hours apart. A connection the commands' thread kept
after the first one would hold a page cache, a parsed schema and prepared statements for
as long as the gateway runs; a burst of commands keeps one until the queue runs empty.
"""

from __future__ import annotations

import json
import queue
import time

from lobby.config import load_config
from lobby.gateway.assemble import build_gateway
from tests.helpers.broker import Broker
from tests.helpers.central import Central, now_ts


def _burst(central: Central, count: int) -> dict[str, dict]:
    """`count` pings published at once; their answers by id (waits until all are in)."""
    ids = [f"burst-{n}" for n in range(count)]
    for cmd_id in ids:
        central.client.publish(f"{central.base}/cmd/ping", json.dumps({"id": cmd_id, "ts": now_ts(), "data": {}}), qos=1)
    answers: dict[str, dict] = {}
    deadline = time.monotonic() + 30
    while len(answers) < count and time.monotonic() < deadline:
        try:
            _name, body = central.results.get(timeout=0.1)
        except queue.Empty:
            continue
        answers[body["id"]] = body
    return answers


def test_the_commands_thread_holds_no_connection_once_its_queue_is_empty(broker: Broker, write_config) -> None:  # noqa: ANN001
    path = write_config(broker.port)
    cfg = load_config(path)
    central = Central(broker.port, cfg.base_topic)
    gateway = build_gateway(cfg, path, simulate=True)
    gateway.start()
    try:
        central.wait_for(lambda: f"{cfg.base_topic}/status" in central.retained, what="gateway online")
        assert central.command("ping", {})["ok"] is True
        central.wait_for(lambda: "mqtt-commands" not in gateway.store.connection_owners(), timeout=5,
                         what=f"the commands' thread to let go: {gateway.store.connection_owners()}")
        # a burst: every command answered, each recorded, and the connection let go after the last
        answers = _burst(central, 20)  # under the default cap of 50 a second
        assert sorted(answers) == sorted(f"burst-{n}" for n in range(20))
        assert all(body["ok"] for body in answers.values())
        assert gateway.store.scalar("SELECT count(*) FROM commands WHERE id LIKE 'burst-%'") == 20
        central.wait_for(lambda: "mqtt-commands" not in gateway.store.connection_owners(), timeout=5,
                         what=f"the commands' thread to let go: {gateway.store.connection_owners()}")
    finally:
        gateway.stop()
        central.close()
    assert central.invalid == []
