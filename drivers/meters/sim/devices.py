"""Simulated meters: each turns a request frame into the reply bytes a real one would send."""

from __future__ import annotations

import abc
import asyncio
import random
import struct
import threading
import time
from typing import Any, ClassVar

from pymodbus.pdu import ExceptionResponse
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from drivers.meters import cjt188, dlt645, modbus_rtu
from drivers.meters.regmap import RegisterMap, RegisterSpec, load_register_map

from drivers.meters.sim.faults import Fault, FaultSpec
from drivers.meters.sim.models import Accumulator


def _other_address(address: str) -> str:
    """The same address with its last digit changed: a neighbour's reply."""
    last = address[-1]
    return address[:-1] + ("1" if last == "0" else "0")


class SimMeter(abc.ABC):
    protocol: ClassVar[str]

    def __init__(self, device_id: str, *, reply_delay: float, preamble: int = 4) -> None:
        self.device_id = device_id
        self.reply_delay = reply_delay
        self.preamble = preamble
        self._lock = threading.Lock()
        self._fault = FaultSpec()
        self._faulted = 0

    # --- fault control ---------------------------------------------------------------------------

    @property
    def fault(self) -> FaultSpec:
        with self._lock:
            return self._fault

    def set_fault(self, fault: FaultSpec | Fault | str = Fault.NONE, **params: Any) -> None:
        spec = fault if isinstance(fault, FaultSpec) else FaultSpec(Fault(fault), **params)
        with self._lock:
            self._fault = spec
            self._faulted = 0

    def _take_fault(self) -> FaultSpec:
        with self._lock:
            spec = self._fault
            if spec.fault is not Fault.NONE and spec.times is not None:
                self._faulted += 1
                if self._faulted >= spec.times:
                    self._fault = FaultSpec()
            return spec

    # --- the wire --------------------------------------------------------------------------------

    def respond(self, frame: Any, rng: random.Random) -> tuple[bytes, float] | None:
        """(reply bytes, delay after the request) or None for silence."""
        if not self.addressed(frame):
            return None
        spec = self._take_fault()
        if spec.fault is Fault.NO_REPLY:
            return None
        reply = self.answer(frame, abnormal=spec.fault is Fault.ABNORMAL, code=spec.code,
                            wrong_address=spec.fault is Fault.WRONG_ADDRESS)
        if reply is None:
            return None
        delay = self.reply_delay
        if spec.fault is Fault.BAD_CHECKSUM:
            reply = self.corrupt(reply)
        elif spec.fault is Fault.GARBAGE:
            reply = bytes(rng.randrange(256) for _ in range(len(reply)))
        elif spec.fault is Fault.SLOW:
            delay += spec.slow_s
        return reply, delay

    @abc.abstractmethod
    def addressed(self, frame: Any) -> bool:
        """Is this request for me (including a broadcast I must answer)?"""

    @abc.abstractmethod
    def answer(self, frame: Any, *, abnormal: bool, code: int | None, wrong_address: bool) -> bytes | None:
        """The reply a healthy (or deliberately refusing) meter sends."""

    def corrupt(self, reply: bytes) -> bytes:
        """Spoil the sum check byte (the one before the 16h end byte)."""
        return reply[:-2] + bytes([reply[-2] ^ 0x5A]) + reply[-1:]

    @abc.abstractmethod
    def set_value(self, name: str, value: Any) -> None: ...

    @abc.abstractmethod
    def values(self) -> dict[str, Any]: ...


class SimDlt645Meter(SimMeter):
    """A DL/T 645-2007 meter: energy integrates power; unknown items get 'no data requested'."""

    protocol = "dlt645"

    def __init__(self, device_id: str, address: str, *, energy_kwh: float = 1000.0, power_kw: float = 1.0,
                 voltage: float = 230.0, frequency: float = 50.0, energy_export_kwh: float = 0.0,
                 unsupported: tuple[str, ...] = (), reply_delay: float = 0.02, preamble: int = 4,
                 time_scale: float = 1.0) -> None:
        super().__init__(device_id, reply_delay=reply_delay, preamble=preamble)
        self.address = address.upper()
        self.unsupported = set(unsupported)
        self._import = Accumulator(energy_kwh, power_kw, time_scale)
        self._export = Accumulator(energy_export_kwh, 0.0, time_scale)
        current = round(power_kw * 1000.0 / voltage, 3) if voltage else 0.0
        self._static: dict[str, float] = {
            "voltage_a": voltage, "voltage_b": voltage, "voltage_c": voltage,
            "current_a": current, "current_b": 0.0, "current_c": 0.0,
            "power": power_kw, "power_a": power_kw, "power_b": 0.0, "power_c": 0.0,
            "power_factor": 1.0, "frequency": frequency,
        }

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self._static)
        out["energy_import"] = self._import.value()
        out["energy_export"] = self._export.value()
        out["energy_combined"] = out["energy_import"] + out["energy_export"]
        return out

    def set_value(self, name: str, value: Any) -> None:
        if name == "energy_import":
            self._import.set_total(float(value))
        elif name == "energy_export":
            self._export.set_total(float(value))
        elif name in ("power", "power_kw"):
            self._static["power"] = float(value)
            self._import.set_rate(max(float(value), 0.0))
            self._export.set_rate(max(-float(value), 0.0))
        elif name in self._static:
            self._static[name] = float(value)
        else:
            raise KeyError(f"{self.device_id}: no value {name!r}; known: {', '.join(self.values())}")

    def addressed(self, frame: dlt645.Frame) -> bool:
        if frame.is_reply:
            return False
        if frame.function == dlt645.FN_READ_ADDRESS:
            return frame.address == dlt645.BROADCAST_ADDRESS
        return frame.address == self.address

    def answer(self, frame: dlt645.Frame, *, abnormal: bool, code: int | None,
               wrong_address: bool) -> bytes | None:
        address = _other_address(self.address) if wrong_address else self.address
        fn = frame.function
        if abnormal:
            return dlt645.build_abnormal_reply(address, fn, 0x02 if code is None else code, self.preamble)
        if fn == dlt645.FN_READ_ADDRESS:
            return dlt645.build_address_reply(address, self.preamble)
        if fn != dlt645.FN_READ or frame.di is None:
            return dlt645.build_abnormal_reply(address, fn, 0x01, self.preamble)
        item = dlt645.DATA_ITEMS.get(frame.di)
        if item is None or item.name in self.unsupported:
            return dlt645.build_abnormal_reply(address, fn, 0x02, self.preamble)
        return dlt645.build_read_reply(address, item.di, _bcd_value(item, self.values()[item.name]),
                                       self.preamble)


def _bcd_value(item: dlt645.DataItem, value: float) -> bytes:
    """Encode like a meter: counters roll over, instantaneous values saturate."""
    integer_digits = 2 * item.nbytes - item.decimals - (1 if item.signed else 0)
    limit = 10.0**integer_digits - 10.0**-item.decimals
    if item.cumulative and not item.signed:
        value %= 10.0**integer_digits
    return item.encode(max(-limit, min(limit, value)))


class SimCjt188Meter(SimMeter):
    """A CJ/T 188 water meter: volume integrates a flow that may be zero or continuous."""

    protocol = "cjt188"

    def __init__(self, device_id: str, address: str, *, meter_type: int = 0x10, volume_m3: float = 0.0,
                 flow_m3h: float = 0.0, settlement_m3: float | None = None, valve: str = "open",
                 battery_low: bool = False, reply_delay: float = 0.05, preamble: int = 4,
                 time_scale: float = 1.0) -> None:
        super().__init__(device_id, reply_delay=reply_delay, preamble=preamble)
        self.address = address.upper()
        self.meter_type = meter_type
        self._volume = Accumulator(volume_m3, flow_m3h, time_scale)
        self.settlement_m3 = volume_m3 if settlement_m3 is None else settlement_m3
        self.valve = valve
        self.battery_low = battery_low

    def values(self) -> dict[str, Any]:
        return {"volume": self._volume.value(), "flow": self._volume.rate,
                "volume_settlement": self.settlement_m3, "valve": self.valve,
                "battery_low": self.battery_low}

    def set_value(self, name: str, value: Any) -> None:
        if name in ("flow", "flow_m3h"):
            self._volume.set_rate(float(value))
        elif name == "volume":
            self._volume.set_total(float(value))
        elif name == "volume_settlement":
            self.settlement_m3 = float(value)
        elif name == "valve":
            if value not in ("open", "closed", "abnormal"):
                raise ValueError("valve is open, closed or abnormal")
            self.valve = str(value)
        elif name == "battery_low":
            self.battery_low = value in (True, "1", "true", "yes", 1)
        else:
            raise KeyError(f"{self.device_id}: no value {name!r}; known: {', '.join(self.values())}")

    def _status(self) -> bytes:
        valve_bits = {"open": 0, "closed": 1, "abnormal": 3}[self.valve]
        return bytes([valve_bits | (0x04 if self.battery_low else 0), 0x00])

    def addressed(self, frame: cjt188.Frame) -> bool:
        return (not frame.is_reply and frame.function == cjt188.FN_READ
                and frame.meter_type in (self.meter_type, 0xAA)
                and frame.address in (self.address, cjt188.BROADCAST_ADDRESS))

    def answer(self, frame: cjt188.Frame, *, abnormal: bool, code: int | None,
               wrong_address: bool) -> bytes | None:
        address = _other_address(self.address) if wrong_address else self.address
        ser = frame.data[2] if len(frame.data) >= 3 else 0
        low_first = True
        if len(frame.data) < 3:
            abnormal = True
        else:
            di, low_first = cjt188.read_di(frame.data)
            abnormal = abnormal or di != cjt188.DI_MEASUREMENT
        if abnormal:
            status = self._status() if code is None else code.to_bytes(2, "little")
            return cjt188.encode_frame(self.meter_type, address, 0xC0 | cjt188.FN_READ,
                                       bytes([ser]) + status, self.preamble)
        now = time.localtime()
        clock = (now.tm_year, now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min, now.tm_sec)
        volume = self._volume.value() % 1_000_000.0
        data = cjt188.encode_measurement(ser, volume, self.settlement_m3 % 1_000_000.0, clock,
                                         self._status(), di_low_first=low_first)
        return cjt188.encode_frame(self.meter_type, address, 0x80 | cjt188.FN_READ, data, self.preamble)


# pymodbus runs datastore updates as coroutines; each simulator thread keeps one loop for them.
_loops = threading.local()


def _run(coro: Any) -> Any:
    loop = getattr(_loops, "loop", None)
    if loop is None:
        loop = _loops.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coro)


def close_thread_loop() -> None:
    """Close this thread's datastore loop (the line's reader calls it on the way out)."""
    loop = getattr(_loops, "loop", None)
    if loop is not None:
        loop.close()
        _loops.loop = None


class SimModbusDevice(SimMeter):
    """A Modbus RTU slave: pymodbus's SimDevice/SimCore datastore, laid out from a register map.

    Every register of the map reads as its current value; cumulative kWh registers
    (except export) advance with a ``power`` register in W, as on an Eastron meter.
    """

    protocol = "modbus"

    def __init__(self, device_id: str, unit: int, register_map: RegisterMap | str, *,
                 values: dict[str, float] | None = None, reply_delay: float = 0.005,
                 time_scale: float = 1.0) -> None:
        super().__init__(device_id, reply_delay=reply_delay, preamble=0)
        self.unit = unit
        self.map = register_map if isinstance(register_map, RegisterMap) else load_register_map(register_map)
        self._static = {spec.name: 0.0 for spec in self.map.registers}
        self._static.update(values or {})
        self._accumulators = {
            spec.name: Accumulator(self._static[spec.name], self._energy_rate(), time_scale)
            for spec in self.map.registers if self._integrates(spec)
        }
        self._core = SimCore([SimDevice(id=unit, simdata=self._layout(), action=self._fill)])

    def _integrates(self, spec: RegisterSpec) -> bool:
        has_power = any(s.name == "power" and s.unit == "W" for s in self.map.registers)
        return has_power and spec.cumulative and spec.unit == "kWh" and "export" not in spec.name

    def _energy_rate(self) -> float:
        return max(self._static.get("power", 0.0), 0.0) / 1000.0

    def _layout(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        def block(function: str) -> list[SimData]:
            specs = [s for s in self.map.registers if s.function == function]
            if not specs:
                return [SimData(0, datatype=DataType.INVALID)]
            start = min(s.address for s in specs)
            count = max(s.end for s in specs) - start
            return [SimData(start, count=count, values=0, datatype=DataType.REGISTERS)]
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        return (bits, list(bits), block("holding"), block("input"))

    async def _fill(self, function_code: int, start_address: int, address: int, count: int,
                    registers: list[int], set_values: Any) -> None:
        """pymodbus action hook: write current values into the registers about to be read."""
        current = self.values()
        for spec in self.map.registers:
            if spec.function_code != function_code or spec.end <= address or spec.address >= address + count:
                continue
            offset = spec.address - start_address
            registers[offset : offset + spec.count] = _register_value(spec, current[spec.name])
        return None

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self._static)
        out.update({name: acc.value() for name, acc in self._accumulators.items()})
        return out

    def set_value(self, name: str, value: Any) -> None:
        if name not in self._static:
            raise KeyError(f"{self.device_id}: no register {name!r} in map {self.map.name}")
        if name in self._accumulators:
            self._accumulators[name].set_total(float(value))
            return
        self._static[name] = float(value)
        if name == "power":
            for acc in self._accumulators.values():
                acc.set_rate(self._energy_rate())

    def addressed(self, frame: modbus_rtu.Frame) -> bool:
        return frame.unit == self.unit

    def answer(self, frame: modbus_rtu.Frame, *, abnormal: bool, code: int | None,
               wrong_address: bool) -> bytes | None:
        unit = self.unit % 247 + 1 if wrong_address else self.unit
        if abnormal:
            pdu = ExceptionResponse(frame.function_code, 0x04 if code is None else code)
        else:
            # pymodbus's own server passes a SimCore here too; its annotation predates SimCore.
            pdu = _run(frame.pdu.datastore_update(self._core, self.unit))  # type: ignore[arg-type]
        return modbus_rtu.encode_response(unit, pdu)

    def corrupt(self, reply: bytes) -> bytes:
        return reply[:-1] + bytes([reply[-1] ^ 0x5A])


def _register_value(spec: RegisterSpec, value: float) -> list[int]:
    try:
        return spec.encode(value)
    except (struct.error, OverflowError, ValueError):
        return spec.encode(0.0)  # out of range for the register type: a real device would show junk
