"""A meter that stops answering: meter.offline after N polls with the bus's reason; the line goes on."""

from __future__ import annotations

import json
import time

from meterservice_helpers import active, alert, readings, wait_until

OFFLINE = "meter.offline:elec-2"


def test_no_reply_raises_offline_after_n_polls_with_the_reason_and_clears_on_answer(simulated, service,
                                                                                    store) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    svc.poll_once("line-a")
    sim.set_fault("elec-2", "no_reply")
    n = cfg.meters[1].offline_after_failures
    for _ in range(n - 1):
        svc.poll_once("line-a")
        assert alert(store, OFFLINE) is None
    svc.poll_once("line-a")
    row = alert(store, OFFLINE)
    assert row is not None and row["state"] == "active" and row["severity"] == "warning"
    detail = json.loads(row["detail"])
    assert "does not answer" in detail["reason"] and "check power, address, wiring" in detail["reason"]
    assert detail["failed_polls"] == n and detail["counters"]["timeouts"] >= n
    assert detail["meter_id"] == "elec-2"
    # the neighbours on the same line were read every time, all good
    for meter in ("elec-1", "water-1"):
        assert len(readings(store, meter)) == n + 1
        assert all(v["quality"] == "good" for r in readings(store, meter) for v in r["values"].values())
    raised = store.scalar("SELECT count(*) FROM outbox WHERE type = 'alert.raised'")
    svc.poll_once("line-a")  # still silent: the same alert, no new event
    assert store.scalar("SELECT count(*) FROM outbox WHERE type = 'alert.raised'") == raised

    sim.clear_fault("elec-2")
    # the bus backs a lost meter off (lost_retry_s); the first poll it answers clears the alert
    wait_until(lambda: svc.poll_once("line-a") > 0 and not active(store, OFFLINE), timeout=10, what="cleared")
    assert store.scalar("SELECT count(*) FROM outbox WHERE type = 'alert.cleared' "
                        "AND json_extract(data, '$.key') = ?", (OFFLINE,)) == 1


def test_a_dead_meter_does_not_hold_up_the_others_schedule(simulated, service, store) -> None:
    cfg, sim = simulated(interval=1)
    svc = service(cfg)
    sim.set_fault("elec-2", "no_reply")
    started = time.monotonic()
    svc.start()
    wait_until(lambda: active(store, OFFLINE), what="offline alert")
    sim.clear_fault("elec-2")
    wait_until(lambda: not active(store, OFFLINE), what="offline cleared")
    wait_until(lambda: len(readings(store, "elec-1")) >= 5, what="five readings of a neighbour")
    elapsed = time.monotonic() - started
    svc.stop(timeout=5)
    counters = svc.bus_counters()["line-a"]
    # every round of the line read every meter, the dead one included (it cost only its own timeouts) ...
    rounds = counters["cycles"]
    assert len(readings(store, "elec-2")) == rounds
    # ... and the rounds kept the 1 s schedule (a slot or two of slack for a busy test machine)
    assert rounds >= int(elapsed) - 2, (rounds, elapsed, counters["skipped_slots"])
    for meter in ("elec-1", "water-1"):
        got = readings(store, meter)
        assert len(got) == rounds
        assert all(v["quality"] == "good" for r in got for v in r["values"].values())
    assert counters["meters"]["elec-2"]["timeouts"] >= cfg.meters[1].offline_after_failures


def test_an_alert_left_active_by_a_previous_run_is_cleared_when_the_meter_answers(simulated, service, store,
                                                                                     alerts) -> None:
    cfg, _ = simulated()
    alerts.raise_alert(OFFLINE, "warning", "仪表离线 Meter offline", {"reason": "before the restart"})
    alerts.raise_alert("meter.offline:gone-meter", "warning", "仪表离线 Meter offline")
    svc = service(cfg)
    svc.start()  # a meter no longer in the configuration: its alert could never clear, so it is cleared now
    wait_until(lambda: not active(store, OFFLINE), what="restored alert cleared")
    assert not active(store, "meter.offline:gone-meter")
