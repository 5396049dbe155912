"""Simulated meter lines: one wire-level ``SimBus`` per line, meters that behave like meters, one control.

``MeterSimulation(buses, folder)`` starts one :class:`SimBus` per :class:`SimBusSpec` on a
pseudo-terminal, linked at ``<folder>/<bus-id>``, with one simulated meter per
:class:`SimMeterSpec` speaking its protocol at its address (Modbus meters lay out their
register map); the real bus drivers then poll it. It steers the meters in canonical
points and units (:mod:`drivers.meters.points`), injects faults, pulls ports, and serves
all of that on a control socket for other processes.

Values advance as real ones do: energy integrates power and volume integrates flow
(the simulators' accumulators, sped up by ``time_scale``); with ``drift`` on, a
background thread wanders power, temperature (22.4-23.6 °C) and humidity (45-55 %)
within comfortable ranges and draws water in bursts. A value set by hand
(``set_value``, ``leak``) is no longer drifted.

The specs are plain data: the lobby turns its configuration into them
(``lobby.meters.simulate``), a test or a bench may write them by hand.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drivers.meters.points import CJT188_VALUES, DLT645_ITEMS, POINTS, canonical_of_register, load_map, unit_factor
from drivers.meters.sim.devices import SimCjt188Meter, SimDlt645Meter, SimMeter, SimModbusDevice
from drivers.meters.sim.faults import Fault, FaultSpec
from drivers.meters.sim.line import SimBus
from drivers.meters.sim.specs import SimBusSpec, SimMeterSpec
from drivers.sim.paths import bus_link

log = logging.getLogger(__name__)

REPLY_DELAY = {"dlt645": 0.02, "cjt188": 0.05, "modbus": 0.005}  # seconds, well inside the default timeouts
DRIFT_STEP_S = 1.0
TEMPERATURE_RANGE = (22.4, 23.6)  # inside the comfort range of every season (summer: 22-24 °C)
HUMIDITY_RANGE = (45.0, 55.0)


def _initial(point: str, rng: random.Random) -> float:
    """A plausible starting value for a canonical point, in canonical units."""
    table: dict[str, Any] = {
        "energy_import": lambda: round(rng.uniform(1000, 50000), 2), "energy_export": lambda: 0.0,
        "power_total": lambda: round(rng.uniform(0.5, 8.0), 3),
        "voltage_a": lambda: round(rng.uniform(225, 235), 1), "frequency": lambda: 50.0,
        "current_a": lambda: round(rng.uniform(2, 15), 3), "power_factor": lambda: 0.96,
        "volume_total": lambda: round(rng.uniform(100, 5000), 2), "flow_rate": lambda: 0.0,
        "heat_total": lambda: round(rng.uniform(1000, 20000), 2),
        "temperature": lambda: round(rng.uniform(*TEMPERATURE_RANGE), 1),
        "humidity": lambda: round(rng.uniform(*HUMIDITY_RANGE), 1), "noise": lambda: 38.0,
    }
    for prefix, base in (("voltage_", "voltage_a"), ("current_", "current_a"), ("power_", "power_total")):
        if point.startswith(prefix) and point not in table:
            return table[base]() / (3 if base == "power_total" else 1)
    if point == "energy_total":
        return table["energy_import"]()
    if point == "volume_settlement":
        return table["volume_total"]()
    return float(table[point]())


class _SimMeterInfo:
    def __init__(self, meter: SimMeterSpec, device: SimMeter, bus_id: str) -> None:
        self.spec = meter
        self.device = device
        self.bus_id = bus_id
        self.held: set[str] = set()  # canonical points set by hand: not drifted
        self.flowing = False


class MeterSimulation:
    """The control object: faults, values, ports. Thread-safe enough for tests and the demo."""

    def __init__(self, buses: Iterable[SimBusSpec], folder: Path, *, time_scale: float = 1.0,
                 seed: int | None = None, drift: bool = True) -> None:
        self.folder = folder
        self.rng = random.Random(seed)
        self.time_scale = time_scale
        self.buses: dict[str, SimBus] = {}
        self.links: dict[str, Path] = {}
        self.meters: dict[str, _SimMeterInfo] = {}
        self._drift = drift
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._control: Any = None
        for bus in buses:
            link = bus_link(folder, bus.bus_id)
            line = SimBus(link, bus.settings, seed=self.rng.randrange(1 << 30))
            for meter in bus.meters:
                device = self._device(meter)
                line.add(device)
                self.meters[meter.meter_id] = _SimMeterInfo(meter, device, bus.bus_id)
            self.buses[bus.bus_id] = line
            self.links[bus.bus_id] = link

    # --- building ------------------------------------------------------------------------------

    def _device(self, meter: SimMeterSpec) -> SimMeter:
        rng, scale = self.rng, self.time_scale
        delay = REPLY_DELAY[meter.protocol]
        if meter.protocol == "dlt645":
            power = _initial("power_total", rng)
            return SimDlt645Meter(meter.meter_id, meter.address, energy_kwh=_initial("energy_import", rng),
                                  power_kw=power, voltage=_initial("voltage_a", rng), reply_delay=delay,
                                  time_scale=scale)
        if meter.protocol == "cjt188":
            return SimCjt188Meter(meter.meter_id, meter.address, meter_type=meter.meter_type,
                                  volume_m3=_initial("volume_total", rng), flow_m3h=0.0, reply_delay=delay,
                                  time_scale=scale)
        assert meter.register_map is not None
        regmap = load_map(meter.register_map)
        values: dict[str, float] = {}
        for spec in regmap.registers:
            point = canonical_of_register(spec.name)
            if point is None:
                continue
            factor = unit_factor(spec.unit, POINTS[point].unit, spec.name)
            values[spec.name] = _initial(point, rng) / factor
        return SimModbusDevice(meter.meter_id, int(meter.address), regmap, values=values, reply_delay=delay,
                               time_scale=scale)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> MeterSimulation:
        for line in self.buses.values():
            line.start()
        if self._drift and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run_drift, name="meters-sim-drift", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._control is not None:
            self._control.stop()
            self._control = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for line in self.buses.values():
            line.stop()

    def __enter__(self) -> MeterSimulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control -------------------------------------------------------------------------------

    def device(self, meter_id: str) -> SimMeter:
        return self.meters[meter_id].device

    def set_fault(self, meter_id: str, fault: Fault | str = Fault.NO_REPLY, **params: Any) -> None:
        """E.g. ``set_fault("elec-1", "no_reply")``, ``set_fault("w-1", "bad_checksum", times=2)``."""
        info = self.meters[meter_id]
        self.buses[info.bus_id].set_fault(meter_id, FaultSpec(Fault(fault), **params))

    def clear_fault(self, meter_id: str) -> None:
        self.set_fault(meter_id, Fault.NONE)

    def _native(self, info: _SimMeterInfo, point: str) -> tuple[str, float]:
        """The simulator's value name for a canonical point, and canonical -> native factor."""
        protocol = info.spec.protocol
        if protocol == "dlt645" and point in DLT645_ITEMS:
            return DLT645_ITEMS[point], 1.0
        if protocol == "cjt188":
            if point == "flow_rate":
                return "flow", 1.0
            if point in CJT188_VALUES:
                return CJT188_VALUES[point], 1.0
        if protocol == "modbus":
            device = info.device
            assert isinstance(device, SimModbusDevice)
            for spec in device.map.registers:
                if canonical_of_register(spec.name) == point:
                    return spec.name, 1.0 / unit_factor(spec.unit, POINTS[point].unit, spec.name)
        raise KeyError(f"{info.spec.meter_id}: the simulated {protocol} meter has no point {point!r}")

    def set_value(self, meter_id: str, point: str, value: float) -> None:
        """Set a canonical point (canonical unit); cumulative points jump to the value, power and flow set
        the rate the registers advance at. The point is no longer drifted."""
        info = self.meters[meter_id]
        name, factor = self._native(info, point)
        info.held.add(point)
        info.device.set_value(name, value * factor)

    def value(self, meter_id: str, point: str) -> float:
        """What the simulated meter holds now, in canonical units."""
        info = self.meters[meter_id]
        if info.spec.protocol == "cjt188" and point == "flow_rate":
            return float(info.device.values()["flow"])
        name, factor = self._native(info, point)
        return float(info.device.values()[name]) / factor

    def leak(self, meter_id: str, flow_m3h: float = 0.03) -> None:
        """A cistern that never stops: constant flow (0 stops it)."""
        self.set_value(meter_id, "flow_rate", flow_m3h)

    def port_down(self, bus_id: str) -> None:
        """Unplug the bus's adapter: the link disappears, the gateway sees a port error."""
        self.buses[bus_id].close_port()

    def port_up(self, bus_id: str) -> None:
        self.buses[bus_id].open_port()

    # --- control socket (other processes: the demo's scenario, the kiosk's simulator panel) ----

    def handle(self, request: Any) -> dict[str, Any]:
        """One JSON control request (see ``serve``); never raises."""
        if not isinstance(request, dict):
            return {"ok": False, "error": "request must be a JSON object"}
        cmd = request.get("cmd")
        meter, bus = request.get("meter"), request.get("bus")
        try:
            if cmd == "list":
                return {"ok": True, "meters": {m: {"bus": i.bus_id, "protocol": i.spec.protocol}
                                               for m, i in self.meters.items()}, "buses": list(self.buses)}
            if cmd in ("fault", "clear", "set", "value", "leak") and meter not in self.meters:
                return {"ok": False, "error": f"unknown meter {meter!r}"}
            if cmd in ("port_down", "port_up") and bus not in self.buses:
                return {"ok": False, "error": f"unknown bus {bus!r}"}
            if cmd == "fault":
                params = {k: request[k] for k in ("slow_s", "code", "times") if k in request}
                self.set_fault(meter, str(request.get("fault", "no_reply")), **params)
            elif cmd == "clear":
                self.clear_fault(meter)
            elif cmd == "set":
                self.set_value(meter, str(request.get("point")), float(request.get("value")))
            elif cmd == "value":
                return {"ok": True, "value": self.value(meter, str(request.get("point")))}
            elif cmd == "leak":
                self.leak(meter, float(request.get("flow_m3h", 0.03)))
            elif cmd == "port_down":
                self.port_down(bus)
            elif cmd == "port_up":
                self.port_up(bus)
            else:
                return {"ok": False, "error": f"unknown cmd {cmd!r}"}
        except (KeyError, ValueError, TypeError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True}

    def serve(self, path: Path | str) -> Any:
        """Serve ``handle`` as JSON lines on a Unix socket (drivers.sim.control); stopped with the simulation.

        {"cmd": "fault", "meter": "elec-1", "fault": "no_reply"}   also bad_checksum, garbage, slow,
                                                                     wrong_address, abnormal; "times": n
        {"cmd": "clear", "meter": "elec-1"}
        {"cmd": "set", "meter": "th-1", "point": "temperature", "value": 27.5}
        {"cmd": "value", "meter": "water-1", "point": "volume_total"}
        {"cmd": "leak", "meter": "water-1", "flow_m3h": 0.03}
        {"cmd": "port_down" | "port_up", "bus": "rs485-1"}
        {"cmd": "list"}
        """
        from drivers.sim.control import ControlServer

        self._control = ControlServer(self.handle, path, name="meters-sim-control").start()
        return self._control

    # --- drift ---------------------------------------------------------------------------------

    def _run_drift(self) -> None:
        while not self._stop.wait(DRIFT_STEP_S):
            for info in list(self.meters.values()):
                try:
                    self._drift_one(info)
                except Exception:  # a simulator hiccup must not end the demo
                    log.exception("%s: drift failed", info.spec.meter_id)

    def _points(self, info: _SimMeterInfo) -> Iterable[str]:
        if info.spec.protocol == "dlt645":
            return ("power_total",)
        if info.spec.protocol == "cjt188":
            return ("flow_rate",)
        device = info.device
        assert isinstance(device, SimModbusDevice)
        return [p for p in (canonical_of_register(s.name) for s in device.map.registers) if p is not None]

    def _drift_one(self, info: _SimMeterInfo) -> None:
        rng = self.rng
        for point in self._points(info):
            if point in info.held:
                continue
            try:
                name, factor = self._native(info, point)
            except KeyError:
                continue
            current = self.value(info.spec.meter_id, point)
            if point == "power_total":
                new = min(max(current * math.exp(rng.gauss(0, 0.05)), 0.2), 20.0)
            elif point == "temperature":
                new = _reflect(current + rng.gauss(0, 0.05), *TEMPERATURE_RANGE)
            elif point == "humidity":
                new = _reflect(current + rng.gauss(0, 0.2), *HUMIDITY_RANGE)
            elif point == "flow_rate":
                if info.flowing and rng.random() < 0.2:
                    info.flowing, new = False, 0.0
                elif not info.flowing and rng.random() < 0.03:
                    info.flowing, new = True, round(rng.uniform(0.3, 1.5), 3)
                else:
                    continue
            else:
                continue
            info.device.set_value(name, new * factor)


def _reflect(value: float, low: float, high: float) -> float:
    if value < low:
        return low + (low - value)
    if value > high:
        return high - (value - high)
    return value

