"""From the configuration to the bus drivers: serial settings, device specs, one MeterBus per line."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from drivers.meters.bus import MeterBus
from drivers.meters.devices import Cjt188Device, DeviceSpec, Dlt645Device, ModbusDevice
from drivers.meters.exchanges import plan
from drivers.meters.points import WATER_TYPES, Binding, load_map
from drivers.meters.serial_settings import SerialSettings

from lobby.config.model import MeterConfig, SerialBusConfig
from lobby.meters.points import bindings


def serial_settings(bus: SerialBusConfig) -> SerialSettings:
    return SerialSettings(bus.baudrate, bus.bytesize, bus.parity, bus.stopbits)


def device_spec(meter: MeterConfig, bus: SerialBusConfig, points: list[Binding] | None = None) -> DeviceSpec:
    """The driver's device spec reading exactly the meter's points (raises PointError/ValueError)."""
    points = bindings(meter) if points is None else points
    timeout = (meter.timeout_ms if meter.timeout_ms is not None else bus.timeout_ms) / 1000.0
    retries = meter.retries if meter.retries is not None else bus.retries
    if meter.protocol == "dlt645":
        return Dlt645Device(device_id=meter.id, address=meter.padded_address,
                            items=tuple(b.native for b in points), timeout=timeout, retries=retries)
    if meter.protocol == "cjt188":
        return Cjt188Device(device_id=meter.id, address=meter.padded_address,
                            meter_type=WATER_TYPES[meter.water_type], timeout=timeout, retries=retries)
    assert meter.map is not None
    full = load_map(meter.map)
    wanted = {b.native for b in points}
    regmap = replace(full, registers=tuple(r for r in full.registers if r.name in wanted))
    return ModbusDevice(device_id=meter.id, unit=int(meter.address), register_map=regmap,
                        timeout=timeout, retries=retries)


def build_bus(bus: SerialBusConfig, meters: list[MeterConfig], **options: Any) -> MeterBus:
    """A MeterBus for one [[buses]] entry (devices are added by the caller)."""
    lost_after = min((m.offline_after_failures for m in meters), default=3)
    return MeterBus(bus.port, serial_settings(bus), frame_gap=bus.frame_gap_ms / 1000.0, lost_after=lost_after,
                    device_retry_initial=bus.lost_retry_s, device_retry_max=bus.lost_retry_max_s, **options)


def poll_wire_time(spec: DeviceSpec, settings: SerialSettings, frame_gap: float) -> float:
    """The least line time one poll of a device takes: every request and its longest reply, plus gaps."""
    gap = settings.modbus_t35 if spec.protocol == "modbus" else frame_gap
    return sum(settings.wire_time(len(ex.request) + ex.reply_budget) + gap for ex in plan(spec))


def line_load(bus: SerialBusConfig, meters: list[MeterConfig]) -> float:
    """Share of the line's time the meters' polls need, with meters answering instantly."""
    settings = serial_settings(bus)
    return sum(poll_wire_time(device_spec(m, bus), settings, bus.frame_gap_ms / 1000.0) / m.interval_s
               for m in meters)
