"""Run a simulated meter line for the demo or by hand.

    python -m drivers.meters.sim --link /tmp/meters --protocol dlt645 --address 000000000001
    python -m drivers.meters.sim --link /tmp/meters --config meters.toml

Then type commands on standard input (one per line):

    fault DEVICE KIND [slow_s=2] [code=2] [times=3]   KIND: none no_reply bad_checksum garbage
                                                      slow wrong_address abnormal
    set DEVICE NAME VALUE                             e.g. set water-1 flow 0
    port close | port open | port bounce SECONDS
    show
    quit
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from drivers.meters.regmap import load_register_map
from drivers.meters.serial_settings import SerialSettings

from drivers.meters.sim.config import build_device, load_config
from drivers.meters.sim.devices import SimMeter
from drivers.meters.sim.faults import Fault, FaultSpec
from drivers.meters.sim.line import SimBus

_DEFAULT_ADDRESS = {"dlt645": "000000000001", "cjt188": "00000000000001"}


def _single_device(ns: argparse.Namespace) -> tuple[SerialSettings, list[SimMeter]]:
    entry: dict[str, object] = {"id": ns.id or f"{ns.protocol}-1", "protocol": ns.protocol}
    if ns.reply_delay is not None:
        entry["reply_delay"] = ns.reply_delay
    if ns.protocol == "modbus":
        entry.update(unit=ns.unit, map=ns.map)
        default_serial = load_register_map(ns.map).default_serial or "9600 8N1"
    else:
        entry["address"] = ns.address or _DEFAULT_ADDRESS[ns.protocol]
        default_serial = "2400 8E1"
    settings = SerialSettings.parse(ns.serial or default_serial)
    return settings, [build_device(entry, ns.time_scale)]


def _fault_params(words: list[str]) -> dict[str, object]:
    params: dict[str, object] = {}
    for word in words:
        key, _, value = word.partition("=")
        if key == "slow_s":
            params[key] = float(value)
        elif key in ("code", "times"):
            params[key] = int(value, 0)
        else:
            raise ValueError(f"unknown fault parameter {key!r} (slow_s, code, times)")
    return params


def _show(line: SimBus) -> str:
    state = {d.device_id: {"protocol": d.protocol, "fault": d.fault.fault.value, "values": d.values(),
                           "requests": line.requests[d.device_id], "replies": line.replies[d.device_id]}
             for d in line.devices}
    return json.dumps({"link": str(line.link), "serial": str(line.settings), "port_open": line.port_open,
                       "devices": state}, indent=2, default=str, ensure_ascii=False)


def run_command(line: SimBus, text: str) -> str:
    """Execute one control command; returns what to print."""
    words = text.split()
    if not words:
        return ""
    cmd, args = words[0], words[1:]
    if cmd == "fault" and len(args) >= 2:
        line.set_fault(args[0], FaultSpec(Fault(args[1]), **_fault_params(args[2:])))  # type: ignore[arg-type]
        return f"ok {args[0]} {args[1]}"
    if cmd == "set" and len(args) == 3:
        value: object = args[2]
        try:
            value = float(args[2])
        except ValueError:
            pass
        line.set_value(args[0], args[1], value)
        return f"ok {args[0]} {args[1]}={value}"
    if cmd == "port" and args[:1] == ["close"]:
        line.close_port()
        return "ok port closed"
    if cmd == "port" and args[:1] == ["open"]:
        line.open_port()
        return "ok port open"
    if cmd == "port" and args[:1] == ["bounce"] and len(args) == 2:
        line.bounce_port(float(args[1]))
        return f"ok port down for {args[1]} s"
    if cmd == "show":
        return _show(line)
    raise ValueError(f"unknown command {text!r}; see: python -m drivers.meters.sim --help")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drivers.meters.sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--link", required=True, help="path of the symlink to the pty (the 'serial port')")
    parser.add_argument("--config", help="TOML/JSON file describing several meters on this line")
    parser.add_argument("--protocol", choices=("dlt645", "cjt188", "modbus"), help="one meter of this kind")
    parser.add_argument("--id", help="device id for a single meter")
    parser.add_argument("--address", help="DL/T 645 (12 digits) or CJ/T 188 (14 digits) address")
    parser.add_argument("--unit", type=int, default=1, help="Modbus unit (slave address)")
    parser.add_argument("--map", default="eastron_sdm120", help="Modbus register map name or file")
    parser.add_argument("--serial", help='line settings, e.g. "2400 8E1" (default per protocol)')
    parser.add_argument("--reply-delay", type=float, help="seconds between request and reply")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated time speed-up")
    parser.add_argument("--seed", type=int, help="seed for garbage bytes")
    parser.add_argument("--log-level", default="INFO")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=ns.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    if bool(ns.config) == bool(ns.protocol):
        parser.error("give either --config or --protocol")
    settings, devices = load_config(ns.config) if ns.config else _single_device(ns)
    if ns.config and ns.serial:
        settings = SerialSettings.parse(ns.serial)
    line = SimBus(ns.link, settings, devices, seed=ns.seed).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"ready {line.link} {settings}", flush=True)

    def commands() -> None:
        for text in sys.stdin:  # end of input does not stop the line: a demo may close stdin
            if text.strip() in ("quit", "exit"):
                stop.set()
                return
            try:
                out = run_command(line, text)
            except (ValueError, KeyError) as exc:
                out = f"error: {exc}"
            if out:
                print(out, flush=True)

    threading.Thread(target=commands, name="simbus-commands", daemon=True).start()
    stop.wait()
    line.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
