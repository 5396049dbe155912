"""The command lane: a per-second cap and a bounded queue, one answer for every command, ids kept."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from mqtt_bridge import schemas
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.command_lane import CommandLane
from mqtt_bridge.commands import CommandIntake, bridge_specs
from mqtt_bridge.commands.intake import CommandResult
from mqtt_bridge.store import Store
from mqtt_bridge.topics import Topics

TOPICS = Topics("lobby/t/g")


def _ping(cmd_id: str) -> bytes:
    return json.dumps({"id": cmd_id, "ts": "2026-11-25T10:00:00Z", "data": {}}).encode()


def _answers(lane: CommandLane, count: int) -> list[dict]:
    """Wait (no time bound asserted: the loop ends when all are in) for `count` answers."""
    got: list[dict] = []
    while len(got) < count:
        item = lane.next_result()
        if item is None:
            time.sleep(0.005)
            continue
        topic, payload, _then = item
        assert topic == "lobby/t/g/cmd/ping/result"
        body = json.loads(payload)
        assert schemas.first_error("command_result.json", body) is None
        got.append(body)
    return got


def test_over_the_cap_each_command_is_answered_rate_limited_with_its_id_and_may_come_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    intake = CommandIntake(store, bridge_specs(AlertEngine(store)), 65536)
    lane = CommandLane(intake, TOPICS, max_per_s=5, queue_max=100, wake=lambda: None)
    lane.start()
    try:
        for i in range(20):
            lane.offer("ping", _ping(f"p{i}"))
        answers = _answers(lane, 20)
        assert sorted(a["id"] for a in answers) == sorted(f"p{i}" for i in range(20))  # one answer each, id kept
        ran = [a for a in answers if a["ok"]]
        limited = [a for a in answers if not a["ok"]]
        assert 5 <= len(ran) < 20 and len(ran) + len(limited) == 20
        assert all(a["error"].startswith("rate_limited: more than 5 commands a second") for a in limited)
        assert lane.accepted == len(ran) and lane.refused == len(limited)
        # a refused command was not recorded: the same id, sent again within the cap, runs
        time.sleep(0.3)  # the bucket refills (5 a second): not an assertion on time
        again = limited[0]["id"]
        lane.offer("ping", _ping(again))
        (answer,) = _answers(lane, 1)
        assert answer["id"] == again and answer["ok"] is True
    finally:
        lane.stop()
        store.close()


class _BlockingIntake:
    """An intake whose first command waits until released (a store locked by someone else)."""

    def __init__(self, real: CommandIntake) -> None:
        self.real = real
        self.release = threading.Event()
        self.started = threading.Event()

    def handle(self, name: str, payload: bytes) -> CommandResult:
        self.started.set()
        self.release.wait()
        return self.real.handle(name, payload)

    def refuse(self, name: str, payload: bytes, error: str) -> CommandResult:
        return self.real.refuse(name, payload, error)

    def idle(self) -> None:
        self.real.idle()


def test_with_the_queue_full_the_bridge_thread_answers_at_once_and_nothing_is_left_unanswered(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    intake = _BlockingIntake(CommandIntake(store, bridge_specs(AlertEngine(store)), 65536))
    lane = CommandLane(intake, TOPICS, max_per_s=1000, queue_max=3, wake=lambda: None)  # type: ignore[arg-type]
    lane.start()
    try:
        lane.offer("ping", _ping("first"))
        intake.started.wait(10)  # the lane's thread holds it
        for i in range(10):
            lane.offer("ping", _ping(f"q{i}"))
        early = _answers(lane, 7)  # 3 wait in the queue; the other 7 are refused on the spot
        assert sorted(a["id"] for a in early) == [f"q{i}" for i in range(3, 10)]
        assert all(not a["ok"] and a["error"].startswith("rate_limited: 3 commands are already waiting") for a in early)
        intake.release.set()
        rest = _answers(lane, 4)
        assert sorted(a["id"] for a in rest) == ["first", "q0", "q1", "q2"] and all(a["ok"] for a in rest)
    finally:
        intake.release.set()
        lane.stop()
        store.close()


def test_a_refusal_keeps_what_id_it_can_and_never_parses_an_oversized_payload(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    intake = CommandIntake(store, bridge_specs(AlertEngine(store)), 1024)
    try:
        assert intake.refuse("ping", _ping("ok-1"), "rate_limited: x").id == "ok-1"
        long_number = b'{"id": "n1", "ts": "2026-11-25T10:00:00Z", "data": {"n": ' + b"9" * 100 + b"}}"
        assert intake.refuse("ping", long_number, "rate_limited: x").id == "n1"
        assert intake.refuse("ping", b"not json", "rate_limited: x").id is None
        big = json.dumps({"id": "big", "ts": "2026-11-25T10:00:00Z", "data": {"x": "y" * 2000}}).encode()
        assert intake.refuse("ping", big, "rate_limited: x").id is None
        assert store.scalar("SELECT count(*) FROM commands") == 0  # nothing recorded
    finally:
        store.close()
