"""Each process imports what it uses: the gateway's start-up leaves the heavy packages out.

Measured in a fresh interpreter (this one has imported everything the tests use).
The figures are in docs/PERFORMANCE.md (bench/gateway_rss_bench.py); these tests only
check which modules are loaded, never how much memory they take.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mqtt_bridge import version

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True,
                         text=True, timeout=120).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


GATEWAY_START = """
import lobby.cli, lobby.cli.gateway_cmd, lobby.config, lobby.runtime, lobby.gateway.assemble, lobby.meters
"""


def test_the_gateway_start_up_leaves_the_kiosk_and_the_conveniences_out() -> None:
    loaded = _loaded_after(GATEWAY_START)
    tops = _tops(loaded)
    # never in the gateway: the touchscreen
    assert not tops & {"kivy", "kiosk"}
    # only when used: event validation (`lobby watch`, tests), sqlite-utils (tx.db),
    # the GPIO panel (buttons configured), Modbus (a Modbus meter configured)
    assert not tops & {"jsonschema", "referencing", "rpds", "sqlite_utils", "click", "gpiozero", "pymodbus"}



def test_commands_are_checked_without_jsonschema_and_events_load_it_when_first_validated() -> None:
    loaded = _loaded_after("from mqtt_bridge import schemas\nassert 'ping' in schemas.command_names()\n")
    assert "jsonschema" not in _tops(loaded)  # the names come from the files alone
    every_command = ("from mqtt_bridge import schemas\n"
                     "assert schemas.first_error('command.json', {}) is not None\n"
                     "for name in schemas.command_names():\n"
                     "    assert schemas.first_error(f'commands/{name}.json', {'?': 1}) is not None\n")
    assert not _tops(_loaded_after(every_command)) & {"jsonschema", "referencing", "rpds", "attrs"}
    loaded = _loaded_after("from mqtt_bridge import schemas\nassert schemas.validate_event('meter', {}) is not None\n")
    assert "jsonschema" in _tops(loaded)


def test_sqlite_utils_is_there_when_a_transaction_asks_for_it(tmp_path: Path) -> None:
    from mqtt_bridge.store import Store

    with Store(tmp_path / "s.db") as store:
        with store.transaction() as tx:
            tx.db["things"].insert({"id": 1, "name": "a"}, pk="id")
        assert store.query("SELECT name FROM things") == [{"name": "a"}]


def test_the_installed_version_is_read_without_importlib_metadata() -> None:
    assert "importlib.metadata" not in _loaded_after("import lobby.cli")
    assert version.installed_version("lobby") == metadata.version("lobby")
    assert version.VERSION.startswith(metadata.version("lobby"))  # from git here: <version>-g<commit>
    assert version.installed_version("pydantic") == metadata.version("pydantic")
    assert version.installed_version("paho-mqtt") == metadata.version("paho-mqtt")
    assert version.installed_version("no-such-distribution-here") == "0.0.0+source"
