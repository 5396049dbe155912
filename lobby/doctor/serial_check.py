"""Each RS-485 line: its serial port is there and opens, and every meter on it answers.

The meters are asked once each through the real bus driver (drivers.meters.MeterBus)
with no retries and the bus's own reply timeout, so a dead line costs about half a
second per meter.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lobby.config import Config
from lobby.config.model import MeterConfig, SerialBusConfig
from lobby.doctor.base import Check, Context, Result, fail, ok, skip, warn

# Names the configuration uses for the register maps shipped in drivers/meters/maps.
MAP_ALIASES = {"sdm120": "eastron_sdm120", "sdm630": "eastron_sdm630", "th_sensor": "xy_md02"}
PROTOCOL_NAMES = {"dlt645": "DL/T 645", "cjt188": "CJ/T 188", "modbus": "Modbus RTU"}


def checks(cfg: Config) -> list[Check]:
    found = []
    for bus in cfg.buses:
        meters = [m for m in cfg.meters if m.bus == bus.id]
        per_meter = bus.timeout_ms / 1000 + 0.5  # one request, the reply window, the line gap, slack
        limit = 3.0 + per_meter * max(len(meters), 1)
        found.append(Check(f"serial {bus.id}", _runner(bus, meters), timeout_s=min(limit, 12.0),
                           timeout_message=f"The RS-485 line {bus.id} on {bus.port} did not finish its check: "
                                           "the adapter hangs.",
                           timeout_fix="Unplug and re-plug the USB RS-485 adapter, then run `lobby doctor` again."))
    return found


def _runner(bus: SerialBusConfig, meters: list[MeterConfig]):  # noqa: ANN202 - a check function
    return lambda ctx: check_bus(ctx, bus, meters)


def check_bus(ctx: Context, bus: SerialBusConfig, meters: list[MeterConfig]) -> list[Result]:
    name = f"serial {bus.id}"
    line = f"{bus.baudrate} {bus.bytesize}{bus.parity}{bus.stopbits}"
    not_asked = [skip(f"meter {m.id}", f"Meter {m.id} was not asked: its serial port does not work.")
                 for m in meters]
    port = bus.port
    # Whether the port exists and may be opened is looked up without opening it, so it is
    # checked even while the gateway holds the port: a missing port is never "in use".
    if not os.path.exists(port):
        return [_missing_port(name, bus)] + not_asked
    if not os.access(port, os.R_OK | os.W_OK):
        return [fail(name, f"This user may not open the serial port {port} (bus {bus.id}).",
                     "The services run as lobby, which is in group dialout; run `lobby doctor` as root or as "
                     "lobby (sudo -u lobby lobby doctor). Check the port's group: ls -lL " + port, port=port)] + not_asked
    blocked = ctx.device_probe_blocked("gateway")
    if blocked:
        return [skip(name, f"Serial port {port} (bus {bus.id}) is there but was not opened: {blocked}.", port=port)] + \
               [skip(f"meter {m.id}", f"Meter {m.id} not asked: {blocked}.") for m in meters]

    from drivers.meters import MeterBus, SerialSettings

    settings = SerialSettings(bus.baudrate, bus.bytesize, bus.parity, bus.stopbits)
    if not meters:
        problem = _open_once(port, settings)
        if problem:
            return [_port_failure(name, bus, problem)]
        return [ok(name, f"Serial port {port} (bus {bus.id}, {line}) opens.", port=port),
                warn(name, f"No meters are configured on bus {bus.id}.",
                     "Add [[meters]] entries with bus = \"" + bus.id + "\", or remove the bus.")]
    # The port is opened once, by the bus driver itself, for all the meters on it.
    meter_bus = MeterBus(port, settings, lost_after=1, port_retry_initial=30.0, port_retry_max=30.0,
                         device_retry_initial=0.05, device_retry_max=0.1)
    answers = []
    try:
        for meter in meters:
            answers.append(_ask(meter_bus, meter, bus, line))
            if meter_bus.port_reason:
                break
    finally:
        meter_bus.close()
    if meter_bus.port_reason:
        return [_port_failure(name, bus, meter_bus.port_reason)] + not_asked
    return [ok(name, f"Serial port {port} (bus {bus.id}, {line}) opens.", port=port)] + answers


def _open_once(port: str, settings) -> str:  # noqa: ANN001 - a SerialSettings
    import serial

    try:
        serial.Serial(port=port, timeout=0, exclusive=True, **settings.pyserial_kwargs()).close()
    except (serial.SerialException, OSError, ValueError) as exc:
        return str(exc)
    return ""


def _port_failure(name: str, bus: SerialBusConfig, problem: str) -> Result:
    if "lock" in problem.lower() or "busy" in problem.lower():
        return fail(name, f"The serial port {bus.port} (bus {bus.id}) is in use by another program.",
                    "Stop the gateway while testing (sudo systemctl stop lobby-gateway) or find the program: "
                    f"sudo fuser -v {bus.port}", port=bus.port, reason=problem)
    return fail(name, f"The serial port {bus.port} (bus {bus.id}) cannot be opened ({problem}).",
                "Unplug and re-plug the USB RS-485 adapter; `dmesg | tail` shows whether the system sees it.",
                port=bus.port, reason=problem)


def _ask(meter_bus, meter: MeterConfig, bus: SerialBusConfig, line: str) -> Result:  # noqa: ANN001
    from drivers.meters import Quality

    name = f"meter {meter.id}"
    what = f"Meter {meter.id} ({PROTOCOL_NAMES[meter.protocol]} address {meter.address}, {meter.place})"
    try:
        spec = device_spec(meter, bus.timeout_ms / 1000)
    except (ValueError, OSError) as exc:
        return fail(name, f"{what} cannot be asked: {exc}.",
                    "Fix the meter's entry in lobby.toml ([[meters]] protocol, address, map).")
    meter_bus.add(spec)
    started = time.monotonic()
    reading = meter_bus.read(spec.device_id)
    took = time.monotonic() - started
    good = [v for v in reading.values.values() if v.quality is Quality.GOOD]
    details = {"protocol": meter.protocol, "address": meter.address, "bus": bus.id, "seconds": round(took, 3)}
    if good:
        sample = good[0]
        value = "" if sample.value is None else f": {sample.name} = {sample.value:g} {sample.unit}".rstrip()
        return ok(name, f"{what} answers{value}.", **details)
    reasons = [v.error for v in reading.values.values() if v.error] or [reading.health.reason]
    reason = reasons[0] or "no valid reply"
    details["reason"] = reason
    if "refus" in reason.lower() or "exception" in reason.lower() or "abnormal" in reason.lower():
        return warn(name, f"{what} answers but refuses the request ({reason}).",
                    "The wiring works. Check the meter's model against the register map or the points in lobby.toml.",
                    **details)
    return fail(name, f"{what} does not answer on {bus.port}.",
                f"Check that the meter has power; that the RS-485 wires A and B reach it (swap A and B if unsure); "
                f"that its address is {meter.address} (on its nameplate or display); that it talks {line} like the "
                f"bus; and that the line has its 120 ohm terminator at the far end. (Driver: {reason})", **details)


def device_spec(meter: MeterConfig, timeout_s: float):  # noqa: ANN201 - a drivers.meters DeviceSpec
    """A one-shot device spec for a configured meter: no retries, one item where the protocol allows."""
    from drivers.meters import Cjt188Device, Dlt645Device, ModbusDevice, RegisterMapError, builtin_map_names

    if meter.protocol == "dlt645":
        items = (meter.points[0],) if meter.points else ("energy_import",)
        return Dlt645Device(device_id=meter.id, address=meter.address.zfill(12), items=items,
                            timeout=timeout_s, retries=0)
    if meter.protocol == "cjt188":
        meter_type = {"water": 0x10, "heat": 0x20}.get(meter.kind, 0x10)
        return Cjt188Device(device_id=meter.id, address=meter.address.zfill(14), meter_type=meter_type,
                            timeout=timeout_s, retries=0)
    source = meter.map or ""
    if source not in builtin_map_names() and not Path(source).exists():
        source = MAP_ALIASES.get(source, source)
    try:
        return ModbusDevice(device_id=meter.id, unit=int(meter.address), register_map=source,
                            timeout=timeout_s, retries=0)
    except RegisterMapError as exc:
        raise ValueError(str(exc)) from None



def _missing_port(name: str, bus: SerialBusConfig) -> Result:
    """The configured port is not there: name the serial ports that are, the likeliest first."""
    port = bus.port
    present = serial_ports(near=port)
    guess = closest_port(port, present)
    listing = ", ".join(present[:12]) or "none"
    message = f"The serial port {port} for RS-485 bus {bus.id} is missing. Serial ports on this Pi: {listing}."
    if guess:
        fix = (f"Did you mean {guess}? Set port = \"{guess}\" under the [[buses]] entry with id = \"{bus.id}\" "
               "in lobby.toml, or plug in the adapter that the configured name stands for.")
        return fail(name, message, fix, port=port, present=present, suggestion=guess)
    adapters = usb_serial_adapters()
    seen = "; ".join(_describe(a) for a in adapters) or "none is plugged in"
    fix = f"Plug in the RS-485 adapter (USB-serial adapters seen now: {seen})."
    if adapters and Path(port).name.startswith("lobby-"):
        fix += (f" If it is plugged in, name it {port} with a udev rule in /etc/udev/rules.d/90-lobby-site.rules, "
                f"for example: {suggest_rule(adapters[0], Path(port).name)}. Then: sudo udevadm control --reload "
                "&& sudo udevadm trigger; ls -l /dev/lobby-*")
    elif present:
        fix += f" Or set port under the [[buses]] entry with id = \"{bus.id}\" to one of: {listing}."
    return fail(name, message, fix, port=port, present=present, adapters=adapters)


# Where serial ports show up: stable names first (udev's by-id and this product's lobby-* names).
SERIAL_GLOBS = ("/dev/serial/by-id/*", "/dev/lobby-*", "/dev/ttyUSB*", "/dev/ttyACM*", "/dev/ttyAMA*",
                "/dev/serial[0-9]*")


def serial_ports(near: str | None = None, globs: tuple[str, ...] = SERIAL_GLOBS) -> list[str]:
    """Serial device nodes that exist now (a name may be a symlink to one), plus the character
    devices beside `near` (a port configured outside /dev, e.g. a simulator's pseudo-terminal)."""
    import glob
    import stat

    found: list[str] = []
    patterns = list(globs)
    if near and Path(near).parent != Path("/dev"):
        patterns.append(str(Path(near).parent / "*"))
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                if stat.S_ISCHR(os.stat(path).st_mode) and path not in found:
                    found.append(path)
            except OSError:
                continue
    return found


def closest_port(port: str, present: list[str]) -> str | None:
    """The existing port whose name is nearest the configured one (a typo), if any is near."""
    import difflib

    if not present:
        return None
    names = {Path(p).name: p for p in present}
    match = difflib.get_close_matches(Path(port).name, list(names), n=1, cutoff=0.6)
    return names[match[0]] if match else None

# --------------------------------------------------------------------------- USB adapters


def usb_serial_adapters(sys_root: str = "/sys/class/tty") -> list[dict[str, str]]:
    """USB-serial adapters the kernel sees now: tty name, vendor, product, serial, USB port."""
    found = []
    root = Path(sys_root)
    if not root.is_dir():
        return found
    for tty in sorted(root.glob("tty[UA][SC][BM]*")):
        device = (tty / "device")
        if not device.exists():
            continue
        usb = device.resolve()
        while usb != usb.parent and not (usb / "idVendor").exists():
            usb = usb.parent
        if not (usb / "idVendor").exists():
            continue

        def read(attr: str, where: Path = usb) -> str:
            try:
                return (where / attr).read_text().strip()
            except OSError:
                return ""
        found.append({"tty": tty.name, "idVendor": read("idVendor"), "idProduct": read("idProduct"),
                      "serial": read("serial"), "product": read("product"),
                      "kernels": usb.name})  # the USB port path, e.g. 1-1.3
    return found


def _describe(adapter: dict[str, str]) -> str:
    text = f"/dev/{adapter['tty']} {adapter['idVendor']}:{adapter['idProduct']}"
    if adapter.get("product"):
        text += f" ({adapter['product']})"
    text += f" serial {adapter['serial']}" if adapter.get("serial") else f" in USB port {adapter['kernels']}"
    return text


def suggest_rule(adapter: dict[str, str], link: str) -> str:
    match = (f'ATTRS{{serial}}=="{adapter["serial"]}"' if adapter.get("serial")
             else f'KERNELS=="{adapter["kernels"]}"')
    return (f'SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{adapter["idVendor"]}", '
            f'ATTRS{{idProduct}}=="{adapter["idProduct"]}", {match}, SYMLINK+="{link}", '
            'GROUP="dialout", MODE="0660"')
