"""Child processes of the demo: started with their output prefixed, stopped together.

Ctrl-C (SIGINT) or SIGTERM stops every child with SIGTERM, waits briefly, then
SIGKILLs what is left, so the whole demo is down within a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

from lobby.demo.console import Console


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    pump: threading.Thread | None = None


@dataclass
class Supervisor:
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    children: list[Child] = field(default_factory=list)
    console: Console = field(default_factory=Console)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"[{name:8}] {line}\n")
            self.out.flush()

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, quiet: bool = False) -> Child:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        child = Child(name, proc)
        if not quiet:
            child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
            child.pump.start()
        self.children.append(child)
        return child

    def _pump(self, child: Child) -> None:
        assert child.proc.stdout is not None
        for raw in iter(child.proc.stdout.readline, b""):
            line = self.console.keep(raw.decode("utf-8", "replace").rstrip())
            if line is not None:
                self.say(child.name, line)

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is not None]

    def stop_all(self, grace_s: float = 3.0) -> None:
        """Every child; a virtual screen (xvfb) only after the programs drawing on it have stopped."""
        first = [c for c in self.children if c.name != "xvfb"]
        self._stop(first, grace_s)
        self._stop([c for c in self.children if c not in first], grace_s)

    def _stop(self, children: list[Child], grace_s: float) -> None:
        for child in reversed(children):
            if child.proc.poll() is None:
                try:
                    os.killpg(child.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        for child in children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.proc.wait()
