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
    """What `lobby gateway` defers: its drivers work, and nothing deferred was loaded."""
    out = _run("""
        import sys
        from lobby.deferred_imports import (PACKAGE_INITS_SKIPPED_BY_SERVICES, UNUSED_BY_SERVICES,
                                            defer_unused_by_services, is_loaded)
        defer_unused_by_services()
        import shutil, tempfile, time
        from pathlib import Path
        import paho.mqtt.client
        from drivers.gpio.button import PanelButton
        from drivers.gpio.buzzer import Buzzer
        from drivers.gpio.factory import make_pin_factory
        from drivers.gpio.led import StatusLed
        from drivers.meters import modbus_rtu
        from pymodbus.pdu.register_message import ReadHoldingRegistersResponse
        factory = make_pin_factory("mock")
        led = StatusLed("led", 17, pwm=True, pin_factory=factory)
        led.show("ok")
        pressed = []
        button = PanelButton("btn", 22, bounce_time=0.01, hold_time=0.5, stuck_time=5, pin_factory=factory)
        button.when_pressed = pressed.append
        factory.pin(22).drive_low(); time.sleep(0.05); factory.pin(22).drive_high()
        button.wait_idle(2)
        buzzer = Buzzer("bz", 12, pin_factory=factory)
        buzzer.play("accepted")
        print(led.state.lit, len(pressed) > 0)
        for device in (led, button, buzzer):
            device.close()
        frame = modbus_rtu.encode_response(1, ReadHoldingRegistersResponse(registers=[7, 8]))
        parsed, size = modbus_rtu.parse_response(frame + b"junk")
        error = modbus_rtu.parse_response(bytes.fromhex("018302C0F1"))[0]
        print(list(parsed.pdu.registers), size, modbus_rtu.describe(error)["exception"],
              len(modbus_rtu.build_read_request(1, 3, 0, 2)))
        print(sorted(name for name in (*UNUSED_BY_SERVICES, *PACKAGE_INITS_SKIPPED_BY_SERVICES) if is_loaded(name)),
              "gpiozero.boards" in sys.modules, "pymodbus.simulator" in sys.modules)
        with tempfile.TemporaryDirectory() as tmp:  # a deferred module still works when it is used
            (Path(tmp) / "f").write_text("x")
            archive = shutil.make_archive(str(Path(tmp) / "a"), "bztar", tmp, "f")
        print(archive.endswith(".tar.bz2"), is_loaded("bz2"))
        from gpiozero.input_devices import LineSensor  # smoothed: the median stand-in loads statistics
        sensor = LineSensor(5, pin_factory=factory, queue_len=3, sample_rate=100)
        time.sleep(0.2)
        print(sensor.value, is_loaded("statistics"))
        sensor.close()
        import gpiozero, gpiozero.output_devices  # the package's own names run its __init__, once
        print(gpiozero.LED is gpiozero.output_devices.LED, tuple(gpiozero.output_devices.Color("red").rgb_bytes), is_loaded("gpiozero"),
              is_loaded("colorzero"))
    """)
    assert out.splitlines() == ["True True", "[7, 8] 9 illegal data address 8", "[] False False",
                                "True True", "0 True", "True (255, 0, 0) True True"]  # Color: loaded when called


def test_a_package_registered_without_its_init_imports_submodules_and_runs_init_at_first_use(
        tmp_path: Path) -> None:
    package = tmp_path / "bigpkg"
    package.mkdir()
    (package / "__init__.py").write_text("import time\nfrom .small import VALUE\nfrom . import heavy\n"
                                         "time.sleep(0.3)\nNAME = 'bigpkg'\n")
    (package / "small.py").write_text("VALUE = 1\n")
    (package / "heavy.py").write_text("WEIGHT = 2\n")
    out = _run("""
        import sys, threading
        from lobby.deferred_imports import is_loaded, skip_package_init
        skip_package_init("bigpkg")
        from bigpkg.small import VALUE
        import bigpkg
        print(VALUE, is_loaded("bigpkg"), "bigpkg.heavy" in sys.modules, bigpkg.small.VALUE)
        seen, start = [], threading.Barrier(8)
        def read():
            start.wait()
            seen.append((bigpkg.NAME, bigpkg.heavy.WEIGHT))
        threads = [threading.Thread(target=read) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(sorted(set(seen)), len(seen), is_loaded("bigpkg"), bigpkg.small is sys.modules["bigpkg.small"])
        skip_package_init("importlib")  # already imported: left alone
        skip_package_init("bigpkg.small")  # not a package: left alone
        print(is_loaded("importlib"), is_loaded("bigpkg.small"))
    """, path=tmp_path)
    assert out.splitlines() == ["1 False False 1", "[('bigpkg', 2)] 8 True True", "True True"]
