"""The shape of a running `lobby gateway` process (issue #17: a gateway under 40 MB).

Against a real mosquitto: the gateway validates its file in a child and holds its
settings as plain records, so pydantic is never mapped into it, even after central
pushed a config (checked by a separate checker process: a hostile push is still
refused by key name, a good one still accepted). Under --simulate the meter lines
run in their own child process, as the card readers do, and die with the gateway; what
pymodbus imports for its async client and server is never loaded, nor is jsonschema
when central's commands are checked. The gateway runs with
the Python settings of its systemd unit (-OO, modules compiled into its cache directory).
"""

from __future__ import annotations

import time
from pathlib import Path

from mqtt_bridge import schemas
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.gateway_rig import GatewayProcess, many_meters, shipped_python_env
from tests.helpers.site_config import site_toml


def _children(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                pass
    return found


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _mapped(pid: int, name: str) -> bool:
    return name in Path(f"/proc/{pid}/maps").read_text()


def test_the_gateway_reads_its_settings_without_pydantic_and_simulates_meters_beside_it(
        tmp_path: Path, broker: Broker) -> None:
    config = tmp_path / "lobby.toml"

    def text(version: int, **kwargs: object) -> str:
        return site_toml(tmp_path / "state", broker.port, version=version, extra=many_meters(4, 2, interval_s=2),
                         **kwargs)  # type: ignore[arg-type]

    config.write_text(text(1))
    central = Central(broker.port, "lobby/tower-a/gw-test")
    cache = tmp_path / "cache"
    env = shipped_python_env(cache)
    assert env["PYTHONOPTIMIZE"] == "2"
    gateway = GatewayProcess(config, tmp_path / "gateway.log", env=env).start()
    try:
        central.wait_for(lambda: {e["data"]["meter_id"] for e in central.events_of("meter.reading")}
                         >= {"m000", "m001", "m002", "m003"}, timeout=60, what="readings from every meter")
        compiled = {p.name.split(".")[0] for p in cache.rglob("*.opt-2.pyc")}
        assert {"gateway_cmd", "modbus_rtu", "dlt645"} <= compiled  # run -OO, compiled into the cache
        assert not _mapped(gateway.pid, "pydantic_core")
        # pymodbus imports asyncio, and the Modbus meters were read without it (lobby/deferred_imports.py)
        assert not _mapped(gateway.pid, "_asyncio.cpython")
        sims = [pid for pid, cmd in _children(gateway.pid).items() if "drivers.meters.sim.host" in cmd]
        assert len(sims) == 1, _children(gateway.pid)

        hostile = text(2).replace(f'state_dir = "{tmp_path / "state"}"', 'state_dir = "/tmp/elsewhere"')
        refused = central.command("config.update", {"version": 2, "toml": hostile}, timeout=60)
        assert refused["ok"] is False and "state_dir" in refused["error"] and "/tmp/elsewhere" not in refused["error"]
        accepted = central.command("config.update", {"version": 3, "toml": text(3, name="Renamed lobby")}, timeout=60)
        assert accepted["ok"] is True, accepted
        assert not _mapped(gateway.pid, "pydantic_core")  # the push was checked by a child
        wrong = central.command("ticket.update", {"ticket_no": "ABCD"}, timeout=60)
        assert wrong["ok"] is False
        assert wrong["error"] == "invalid data: " + schemas.first_error_by_jsonschema(
            "commands/ticket.update.json", {"ticket_no": "ABCD"})
        # commands are checked without jsonschema (mqtt_bridge/schemas/checker.py): its rpds extension is not mapped
        assert not _mapped(gateway.pid, "rpds")

        gateway.kill()
        deadline = time.monotonic() + 10
        while not _gone(sims[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(sims[0]), "the meter simulation outlived its gateway"
    finally:
        gateway.stop()
        central.close()
