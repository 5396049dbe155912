"""MemoryDenyWriteExecute=yes does not break the gateway's Python, ctypes or libnfc.

The child runs under the seccomp rule systemd installs for MemoryDenyWriteExecute=yes
(tests/deploy/mdwe_exec.py) and uses what the gateway uses: CPython, ssl, sqlite3,
ctypes with a libffi callback, adjtimex through ctypes (timebase), and the real libnfc
reader (pynfc) against the PN532 simulator, which runs here, outside the rule.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import REPO

from drivers.nfc.sim.pn532 import PN532Simulator

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="seccomp rule for x86_64/aarch64")

CHILD = r'''
import ctypes, mmap, sqlite3, ssl, sys, threading

# the rule is really there: W+X memory is refused
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("W+X mmap was allowed"); sys.exit(3)
except PermissionError:
    print("W+X refused")

libc = ctypes.CDLL(None, use_errno=True)
page = mmap.mmap(-1, 4096)
address = ctypes.addressof(ctypes.c_char.from_buffer(page))
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
assert libc.mprotect(address, 4096, 0x1 | 0x4) == -1, "mprotect(PROT_EXEC) was allowed"
print("mprotect exec refused")

# ctypes callback (a libffi closure)
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
values = (ctypes.c_int * 5)(5, 1, 4, 2, 3)
libc.qsort(values, 5, ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))
assert list(values) == [1, 2, 3, 4, 5]
print("ctypes callback ok")

import os
os.environ.pop("LOBBY_CLOCK_SYNCED", None)
from mqtt_bridge.timebase import clock_synchronised  # adjtimex(2) through ctypes
clock_synchronised()
ssl.create_default_context()
sqlite3.connect(":memory:").execute("select 1")
print("stdlib ok")

from drivers.nfc.libnfc_reader import LibnfcReader
taps = []
got = threading.Event()
reader = LibnfcReader("mdwe", "pn532_uart:" + sys.argv[1])
reader.start(lambda event: (taps.append(event.uid), got.set()) if event.kind == "tap" else None)
ok = got.wait(15)
reader.stop()
print("libnfc tap", taps[0] if ok else None)
'''


def test_gateway_code_runs_under_memory_deny_write_execute(tmp_path: Path) -> None:
    sim = PN532Simulator(tmp_path / "pn532").start()
    try:
        sim.present("04A1B2C3D4E501", "ntag")
        done = subprocess.run([sys.executable, str(REPO / "tests/deploy/mdwe_exec.py"), sys.executable, "-c", CHILD,
                               str(tmp_path / "pn532")], capture_output=True, text=True, timeout=60, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        sim.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == ["W+X refused", "mprotect exec refused", "ctypes callback ok", "stdlib ok"], done.stdout
    assert "libnfc tap 04A1B2C3D4E501" in lines, done.stdout + done.stderr
