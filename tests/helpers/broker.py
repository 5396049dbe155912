"""A real mosquitto broker for tests: free loopback port, generated config, persistence.

It can be restarted gracefully, killed, paused (SIGSTOP) and wiped, which is what
the chaos tests need. TLS listeners use certificates generated at test time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    require_client_cert: bool = False


@dataclass
class Broker:
    workdir: Path
    port: int = field(default_factory=free_port)
    tls: TlsFiles | None = None
    password_file: Path | None = None
    acl_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    extra: str = ""

    @property
    def persistence(self) -> Path:
        return self.workdir / "data"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.persistence.mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.persistence}/",
            "autosave_interval 1",
            "max_queued_messages 0",      # unlimited queue for persistent sessions
            "max_inflight_messages 0",
            "set_tcp_nodelay true",
            f"log_dest file {self.workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # mosquitto started as root drops to user 'mosquitto', who cannot read pytest's 0700 folders
            lines.append("user root")
        if self.password_file:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if self.tls:
            lines += [f"cafile {self.tls.ca}", f"certfile {self.tls.server_cert}", f"keyfile {self.tls.server_key}",
                      "tls_version tlsv1.2"]
            if self.tls.require_client_cert:
                lines += ["require_certificate true", "use_identity_as_username false"]
        if self.extra:
            lines.append(self.extra)
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> "Broker":
        conf = self._write_config()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        """Graceful: SIGTERM, mosquitto saves its persistence file."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, wipe: bool = False) -> None:
        self.stop()
        if wipe:
            shutil.rmtree(self.persistence, ignore_errors=True)
        self.start()

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def log_text(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""
