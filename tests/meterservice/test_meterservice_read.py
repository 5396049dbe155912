"""Meters read through the real bus drivers over simulated lines become valid meter.reading events."""

from __future__ import annotations

import time

import pytest
from meterservice_helpers import active, outbox_events, readings, wait_until

from drivers.health import HealthState
from mqtt_bridge.store import Lane


def test_every_configured_meter_becomes_one_reading_in_canonical_points(simulated, service, store) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    assert svc.poll_once() == 5
    by_meter = {r["meter_id"]: r for r in readings(store)}
    assert set(by_meter) == {"elec-1", "elec-2", "water-1", "sdm-1", "th-1"}
    # canonical names and units whatever the protocol (DL/T 645 items, CJ/T 188, Eastron and XY-MD02 registers)
    assert set(by_meter["elec-1"]["values"]) == {"energy_import", "voltage_a", "current_a", "power_total"}
    assert set(by_meter["sdm-1"]["values"]) == {"energy_import", "voltage_a", "voltage_b", "voltage_c", "current_a",
                                                "current_b", "current_c", "power_total", "frequency"}
    assert set(by_meter["water-1"]["values"]) == {"volume_total"}
    assert set(by_meter["th-1"]["values"]) == {"temperature", "humidity"}
    assert by_meter["sdm-1"]["values"]["power_total"]["unit"] == "kW"  # the Eastron register is in W
    assert by_meter["water-1"]["values"]["volume_total"]["unit"] == "m³"
    assert (by_meter["water-1"]["kind"], by_meter["th-1"]["kind"], by_meter["sdm-1"]["kind"]) == \
        ("water", "environment", "electricity")
    assert by_meter["th-1"]["place"] == "大堂 Lobby"
    for data in by_meter.values():
        assert all(v["quality"] == "good" for v in data["values"].values()), data
    # the values are the simulated meters' own (power W -> kW, float32 registers)
    assert by_meter["sdm-1"]["values"]["power_total"]["value"] == pytest.approx(sim.value("sdm-1", "power_total"),
                                                                                rel=1e-4)
    assert by_meter["th-1"]["values"]["temperature"]["value"] == pytest.approx(sim.value("th-1", "temperature"),
                                                                               abs=0.051)
    assert by_meter["water-1"]["values"]["volume_total"]["value"] == pytest.approx(
        sim.value("water-1", "volume_total"), abs=0.011)


def test_one_poll_cycle_is_one_transaction_on_the_bulk_lane(simulated, service, store) -> None:
    cfg, _ = simulated()
    svc = service(cfg)
    svc.poll_once("line-a")
    svc.poll_once("line-b")
    events = outbox_events(store, "meter.reading")
    assert [e["lane"] for e in events] == [int(Lane.BULK)] * 5
    cycle_a, cycle_b = events[:3], events[3:]
    for cycle in (cycle_a, cycle_b):
        seqs = [e["envelope"]["seq"] for e in cycle]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one seq block ...
        assert len({e["envelope"]["ts"] for e in cycle}) == 1  # ... stamped once: append_events in one transaction
    latest = {row["meter_id"]: row for row in store.query("SELECT * FROM meter_latest")}
    assert set(latest) == {"elec-1", "elec-2", "water-1", "sdm-1", "th-1"} and all(r["ok"] for r in latest.values())


def test_threads_poll_each_meter_on_its_interval_and_stop_in_bounded_time(simulated, service, store) -> None:
    cfg, _ = simulated(interval=1)
    svc = service(cfg)
    svc.start()
    wait_until(lambda: all(len(readings(store, m)) >= 3 for m in ("elec-1", "water-1", "sdm-1", "th-1")),
               what="three readings of every meter")
    assert svc.stop(timeout=5) is True
    count = len(readings(store))
    time.sleep(0.3)
    assert len(readings(store)) == count  # nothing is polled after stop
    counters = svc.bus_counters()
    assert counters["line-a"]["totals"]["ok"] > 0 and counters["line-a"]["write_errors"] == 0
    assert counters["line-b"]["serial"] == "115200 8N1"


def test_readings_of_a_failing_meter_carry_stale_and_error_quality(simulated, service, store) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    sim.set_fault("elec-2", "no_reply")
    svc.poll_once("line-a")
    first = readings(store, "elec-2")[-1]["values"]
    assert {v["quality"] for v in first.values()} == {"error"} and all(v["value"] is None for v in first.values())
    sim.clear_fault("elec-2")
    svc.poll_once("line-a")
    sim.set_fault("elec-2", "no_reply")
    svc.poll_once("line-a")
    stale = readings(store, "elec-2")[-1]["values"]
    assert {v["quality"] for v in stale.values()} == {"stale"}
    assert all(v["value"] is not None and v["age_s"] >= 0 for v in stale.values())


def test_health_and_counters_follow_the_port_and_never_raise(simulated, service, store) -> None:
    cfg, sim = simulated()
    svc = service(cfg)
    health = {h.device_id: h for h in svc.device_health()}
    assert set(health) == {"line-a", "line-b", "elec-1", "elec-2", "water-1", "sdm-1", "th-1"}
    svc.poll_once()
    assert {h.device_id: h.state for h in svc.device_health()}["elec-1"] is HealthState.OK
    sim.port_down("line-a")  # the USB adapter is unplugged
    svc.poll_once("line-a")
    health = {h.device_id: h for h in svc.device_health()}
    assert health["line-a"].state is HealthState.LOST and "unavailable" in health["line-a"].reason
    assert health["elec-1"].state is HealthState.LOST
    assert active(store, "meter.bus_down:line-a")
    assert svc.bus_counters()["line-a"]["port_ok"] is False
    sim.port_up("line-a")
    wait_until(lambda: svc.poll_once("line-a") > 0 and not active(store, "meter.bus_down:line-a"),
               what="bus back")
    # a broken bus object must not break the host's health report
    svc.buses["line-b"].bus = None  # type: ignore[assignment]
    assert any(h.device_id == "line-b" and "unavailable" in h.reason for h in svc.device_health())
    assert "error" in svc.bus_counters()["line-b"]


def test_the_simulation_is_steered_from_another_process_through_its_control_socket(tmp_path, service,
                                                                                    store) -> None:  # noqa: ANN001
    from meterservice_helpers import make_config

    from drivers.sim.control import ControlClient, ControlError
    from lobby.meters import start_simulation

    cfg, sim = start_simulation(make_config(tmp_path / "state"), seed=2, drift=False, control_socket=True)
    try:
        assert sim.links["line-a"] == tmp_path / "state" / "sim" / "line-a"
        assert cfg.buses[0].port == str(sim.links["line-a"])
        svc = service(cfg)
        with ControlClient(tmp_path / "state" / "sim" / "meters.sock") as client:
            assert set(client.request({"cmd": "list"})["meters"]) == {"elec-1", "elec-2", "water-1", "sdm-1", "th-1"}
            client.request({"cmd": "set", "meter": "th-1", "point": "temperature", "value": 26.5})
            client.request({"cmd": "fault", "meter": "elec-1", "fault": "no_reply"})
            with pytest.raises(ControlError):
                client.request({"cmd": "set", "meter": "th-1", "point": "volume_total", "value": 1})
            svc.poll_once()
            assert readings(store, "th-1")[-1]["values"]["temperature"]["value"] == 26.5
            assert readings(store, "elec-1")[-1]["values"]["energy_import"]["quality"] == "error"
            client.request({"cmd": "clear", "meter": "elec-1"})
            assert client.request({"cmd": "value", "meter": "th-1", "point": "temperature"})["value"] == 26.5
    finally:
        sim.stop()
    assert not (tmp_path / "state" / "sim" / "meters.sock").exists()


def test_the_gateways_meter_lines_take_turns_on_one_store_connection(simulated, store, alerts) -> None:
    """The gateway's meter component: every line polls on its own thread, and all of them write
    through one serialized store handle (one SQLite connection), closed when the component stops."""
    import threading

    from lobby.gateway.meters import MetersComponent
    from mqtt_bridge.store.database import PAGE_CACHE_KIB

    cfg, _sim = simulated(interval=1)
    assert len(cfg.buses) >= 2
    component = MetersComponent(cfg, store, alerts)
    component.start()
    try:
        wait_until(lambda: {r["meter_id"] for r in readings(store)} >= {m.id for m in cfg.meters}, timeout=30,
                   what="a reading from every meter on every line")
        line_threads = [t for t in threading.enumerate() if t.name.startswith("meters-") and t.name != "meters-daily"]
        assert len(line_threads) == len(cfg.buses)
        assert component.lines_store is not None and component.lines_store.connection_owners() == ["(shared)"]
        # its page cache is capped, as every store connection's: the meters' tables grow for two days
        assert component.lines_store.scalar("PRAGMA cache_size") == -PAGE_CACHE_KIB
        assert store.integrity_check() == "ok"
    finally:
        component.stop()
    assert component.lines_store.connection_owners() == []  # closed with the component
