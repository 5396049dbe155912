"""A three-node RabbitMQ cluster on loopback with the MQTT plugin, for the cluster chaos tests.

Debian's `rabbitmq-server` (3.10 on Bookworm) started as root from
`/usr/lib/rabbitmq/bin/rabbitmq-server` (the /usr/sbin wrapper switches to the
`rabbitmq` user, who cannot write to pytest's folders). Each node has its own node
name, AMQP, MQTT and distribution ports and data and log folders; all share one
HOME (so one Erlang cookie) and a private epmd on a free port (ERL_EPMD_PORT), so
nothing here meets another RabbitMQ or Erlang node on the machine. Nodes 2 and 3
join node 1 with `rabbitmqctl join_cluster`.

`RabbitUnavailable` is raised when RabbitMQ cannot be started here (not installed,
epmd missing, a start that times out): the fixtures turn it into a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.broker import free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
EPMD = shutil.which("epmd") or "/usr/bin/epmd"
START_TIMEOUT_S = 150.0  # ~30 s a node on the 2-core development machine, three at once


class RabbitUnavailable(RuntimeError):
    """RabbitMQ cannot run on this machine; the reason is the message."""


def _port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class RabbitNode:
    index: int
    root: Path  # the cluster's folder
    home: Path
    epmd_port: int
    amqp_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"rabbit{self.index}@localhost"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.mqtt_port}"

    def env(self) -> dict[str, str]:
        base = self.root / f"node{self.index}"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
            "HOME": str(self.home),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_MNESIA_DIR": str(base / "mnesia" / self.name.split("@")[0]),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        }

    def write_files(self) -> None:
        base = self.root / f"node{self.index}"
        (base / "log").mkdir(parents=True, exist_ok=True)
        (base / "mnesia").mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (base / "rabbitmq-env.conf").write_text("")
        (base / "rabbitmq.conf").write_text("\n".join([
            f"listeners.tcp.default = {self.amqp_port}",
            f"mqtt.listeners.tcp.default = {self.mqtt_port}",
            "loopback_users = none",
            "mqtt.allow_anonymous = true",
            # Central's persistent session is a queue: a quorum queue is replicated on all
            # three nodes, so it survives the loss of any one (a classic queue lives on one node).
            "mqtt.durable_queue_type = quorum",
            "log.console = false",
            "log.file.level = warning",
            "",
        ]))

    def start(self) -> None:
        log = open(self.root / f"node{self.index}" / "stdout.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen([str(SERVER)], env=self.env(), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    def ctl(self, *args: str, timeout: float = 60.0, check: bool = True) -> str:
        done = subprocess.run([str(CTL), "-n", self.name, *args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.name} {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RabbitUnavailable(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            if _port_open(self.mqtt_port):
                return
            time.sleep(0.25)
        raise RabbitUnavailable(f"{self.name} did not open its MQTT port within {timeout:.0f} s: {self.log_tail()}")

    def beam_pid(self) -> int | None:
        """The node's Erlang VM (beam.smp), a child of the start script (which stays as its parent)."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if comm == "beam.smp" and ppid == self.proc.pid:
                return int(entry.name)
        return None

    def kill(self) -> None:
        """A crash: SIGKILL the node's beam.smp, then whatever is left of its process group
        (the start script, erl_child_setup, inet_gethost)."""
        if self.proc is None:
            return
        beam = self.beam_pid()
        if beam is not None:
            os.kill(beam, signal.SIGKILL)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """Graceful: `rabbitmqctl stop`, then SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        try:
            self.ctl("stop", timeout=60, check=False)
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def log_tail(self, chars: int = 1500) -> str:
        texts = []
        for path in sorted((self.root / f"node{self.index}").glob("**/*.log")):
            texts.append(path.read_text(errors="replace")[-chars:])
        return "\n".join(texts)[-chars:]


class RabbitCluster:
    """Three RabbitMQ nodes with the MQTT plugin, clustered; `stop()` leaves no process behind."""

    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        self.home = root / "home"
        self.epmd_port = free_port()
        self.nodes = [RabbitNode(i + 1, root, self.home, self.epmd_port) for i in range(size)]
        self._epmd: subprocess.Popen[bytes] | None = None

    @staticmethod
    def unavailable_reason() -> str | None:
        if not SERVER.exists() or not CTL.exists():
            return f"RabbitMQ is not installed ({SERVER} missing: apt-get install rabbitmq-server)"
        if not Path(EPMD).exists():
            return "epmd (Erlang's port mapper) is not installed"
        plugins = list(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/plugins/rabbitmq_mqtt-*"))
        if not plugins:
            return "RabbitMQ's MQTT plugin (rabbitmq_mqtt) is not installed"
        return None

    def start(self) -> "RabbitCluster":
        reason = self.unavailable_reason()
        if reason:
            raise RabbitUnavailable(reason)
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text("LOBBYCLUSTERTESTCOOKIE")
        cookie.chmod(0o400)
        self._epmd = subprocess.Popen([EPMD, "-port", str(self.epmd_port)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not _port_open(self.epmd_port):
            if self._epmd.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RabbitUnavailable(f"epmd did not start on port {self.epmd_port}")
            time.sleep(0.05)
        try:
            for node in self.nodes:
                node.write_files()
                node.start()
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(lambda n: n.wait_ready(), self.nodes))
            first = self.nodes[0]
            for node in self.nodes[1:]:
                node.ctl("stop_app")
                node.ctl("join_cluster", first.name)
                node.ctl("start_app", timeout=120)
            for node in self.nodes:
                node.wait_ready()
            self.wait_members(len(self.nodes))
        except (RabbitUnavailable, RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
            self.stop()
            if isinstance(exc, RabbitUnavailable):
                raise
            raise RabbitUnavailable(f"the RabbitMQ cluster did not form: {exc}") from exc
        return self

    def running_nodes(self, via: RabbitNode | None = None) -> list[str]:
        via = via or next(n for n in self.nodes if n.proc is not None)
        out = via.ctl("eval", "rabbit_nodes:all_running().", timeout=30, check=False)
        return sorted(part.strip(" []'\n") for part in out.split(",") if "@" in part)

    def wait_members(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.running_nodes()) >= count:
                return
            time.sleep(0.5)
        raise RabbitUnavailable(f"the cluster did not reach {count} running nodes within {timeout:.0f} s")

    def restart_node(self, node: RabbitNode) -> float:
        """Start a stopped or killed node again and wait until it is back in the cluster; its start-up time."""
        t0 = time.monotonic()
        node.start()
        node.wait_ready()
        self.wait_members(len(self.nodes))
        return time.monotonic() - t0

    def stop(self) -> None:
        for node in self.nodes:
            try:
                node.kill()  # the test data is thrown away: no need for a graceful stop
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self._epmd is not None and self._epmd.poll() is None:
            self._epmd.kill()
            self._epmd.wait(10)
        self._epmd = None
