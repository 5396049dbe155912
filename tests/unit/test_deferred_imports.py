"""Deferred imports (lobby/deferred_imports.py): a module registered with `defer` costs nothing
until something reads from it, and then behaves exactly as if imported normally.

Each case runs in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *, path: Path | None = None) -> str:
    env_path = f"{path}:{ROOT}" if path else str(ROOT)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_paho_imports_without_loading_urllib_request_and_it_still_works_when_used() -> None:
    out = _run("""
        import sys
        from lobby.deferred_imports import defer, is_loaded
        defer("urllib.request")
        import paho.mqtt.client
        print("http.client" in sys.modules, is_loaded("urllib.request"))
        import urllib.request
        from urllib.request import Request
        print(Request("http://example.invalid/").host, "http.client" in sys.modules, is_loaded("urllib.request"))
        print(isinstance(urllib.request.getproxies(), dict), urllib.request.Request is Request)
    """)
    assert out.splitlines() == ["False False", "example.invalid True True", "True True"]


def test_a_deferred_package_loads_with_its_submodules_at_first_use() -> None:
    out = _run("""
        import sys
        from lobby.deferred_imports import defer, is_loaded
        defer("asyncio")
        import pymodbus.framer, pymodbus.pdu
        print(is_loaded("asyncio"), "asyncio.base_events" in sys.modules)
        import asyncio
        async def answer():
            await asyncio.sleep(0)
            return 42
        print(asyncio.run(answer()), is_loaded("asyncio"), asyncio.Future.__module__)
    """)
    assert out.splitlines() == ["False False", "42 True _asyncio"]


def test_threads_racing_the_first_use_all_see_the_whole_module(tmp_path: Path) -> None:
    (tmp_path / "slowmod.py").write_text("import time\nFIRST = 1\ntime.sleep(0.3)\nLAST = 2\n")
    out = _run("""
        import threading
        from lobby.deferred_imports import defer
        defer("slowmod")
        import slowmod
        seen, start = [], threading.Barrier(8)
        def read():
            start.wait()
            seen.append((slowmod.FIRST, slowmod.LAST))
        threads = [threading.Thread(target=read) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(sorted(set(seen)), len(seen))
        try:
            slowmod.MISSING
        except AttributeError as exc:
            print("AttributeError", "MISSING" in str(exc))
    """, path=tmp_path)
    assert out.splitlines() == ["[(1, 2)] 8", "AttributeError True"]  # no thread saw a half-run module


def test_modules_already_imported_or_missing_are_left_alone() -> None:
    out = _run("""
        import sys, json
        from lobby.deferred_imports import defer, is_loaded
        before = sys.modules["json"]
        defer("json")
        defer("no_such_module_anywhere")
        print(sys.modules["json"] is before, "no_such_module_anywhere" in sys.modules, is_loaded("json"))
    """)
    assert out == "True False True"


def test_a_function_imported_by_name_loads_its_module_only_when_called() -> None:
    out = _run("""
        import sys
        from lobby.deferred_imports import defer, is_loaded
        defer("importlib.metadata", ("entry_points",))
        from importlib.metadata import entry_points
        print(is_loaded("importlib.metadata"), "email.message" in sys.modules)
        names = {ep.name for ep in entry_points(group="console_scripts")}
        print("lobby" in names, is_loaded("importlib.metadata"), "email.message" in sys.modules)
        import importlib.metadata
        print(importlib.metadata.entry_points is not entry_points, entry_points.__name__)
    """)
    assert out.splitlines() == ["False False", "True True True", "True entry_points"]


def test_the_services_deferrals_leave_gpiozero_paho_and_pymodbus_working() -> None:
    """What `lobby gateway` defers: its libraries import and work, and nothing deferred was loaded."""
    out = _run("""
        from lobby.deferred_imports import UNUSED_BY_SERVICES, defer_unused_by_services, is_loaded
        defer_unused_by_services()
        import shutil, tempfile
        from pathlib import Path
        import paho.mqtt.client, gpiozero, pymodbus.pdu
        from drivers.gpio.factory import make_pin_factory
        from drivers.meters.modbus_rtu import build_read_request, parse_response
        led = gpiozero.LED(17, pin_factory=make_pin_factory("mock"))
        led.on()
        print(led.is_lit, len(build_read_request(1, 3, 0, 2)))
        print(sorted(name for name in UNUSED_BY_SERVICES if is_loaded(name)))
        with tempfile.TemporaryDirectory() as tmp:  # a deferred module still works when it is used
            (Path(tmp) / "f").write_text("x")
            archive = shutil.make_archive(str(Path(tmp) / "a"), "bztar", tmp, "f")
        print(archive.endswith(".tar.bz2"), is_loaded("bz2"))
    """)
    assert out.splitlines() == ["True 8", "[]", "True True"]
