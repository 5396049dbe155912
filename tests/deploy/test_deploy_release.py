"""Releases: build once, install into a --root, upgrade N -> N+1, roll back to N with the store intact.

Two releases are built from the working tree (N, and N+1 with one more, additive, migration),
each a tarball of hash-pinned wheels made with systemd/release.sh. N is installed with
install.sh --release into a throwaway root; records are written by N's own code, then by
N+1's after `lobby-release install`, and after `lobby-release rollback` N opens the store
that N+1 expanded and every record written since the upgrade is still there.

The dependency wheels come from the lock file (release/lock.txt) through pip download, kept in
a cache folder between runs (hash-checked every time), so the first run needs the package
index; later runs build offline. The tarballs are built once per session (the `releases`
fixture in conftest.py, release_helpers.py), shared with test_deploy_fleet_upgrade.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import REPO, run_install
from release_helpers import RELEASE, _tree_copy

pytestmark = [pytest.mark.xdist_group("release"), pytest.mark.timeout(900)]

# Records written by the release's own code (its venv's python), through the store API.
WRITE = """
import json, sys
from mqtt_bridge.store import Store
from mqtt_bridge.version import VERSION
with Store(sys.argv[1]) as store:
    for n in range(int(sys.argv[2]), int(sys.argv[3])):
        store.emit("visitor", "visitor.checked_in", {"n": n, "by": VERSION})
    rows = store.query("SELECT data FROM outbox WHERE type = 'visitor.checked_in' ORDER BY seq")
    print(json.dumps({"version": VERSION, "schema": store.schema_version,
                      "ns": [json.loads(r["data"])["n"] for r in rows]}))
"""


def _lobby_root(tmp_path: Path, tarball: Path) -> Path:
    root = tmp_path / "root"
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/cmdline.txt").write_text("console=tty1 rootwait\n")
    done = run_install("--root", str(root), "--release", str(tarball), "--role", "gateway")
    assert "would run: systemctl enable" in done.stdout
    state = root / "var/lib/lobby"
    (root / "etc/lobby/lobby.toml").write_text(
        f'version = 1\nstate_dir = "{state}"\n[site]\nsite_id = "tower-a"\ngateway_id = "gw-1"\n'
        '[mqtt]\nhost = "127.0.0.1"\n')
    return root


def _tool(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(root / "usr/local/sbin/lobby-release"), *args, "--root", str(root)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable, "LC_ALL": "C"})
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _write(root: Path, start: int, stop: int) -> dict:
    """Records written by the current release's own code; what it then reads back."""
    python = root / "opt/lobby/current/bin/python"
    done = subprocess.run([str(python), "-c", WRITE, str(root / "var/lib/lobby/lobby.db"), str(start), str(stop)],
                          capture_output=True, text=True, timeout=120, cwd=root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _current(root: Path) -> str:
    return os.readlink(root / "opt/lobby/current")


def test_upgrade_then_rollback_keeps_every_record(tmp_path: Path, releases: dict[str, Path]) -> None:
    root = _lobby_root(tmp_path, releases["n"])
    assert _current(root) == "releases/1.0.0"
    assert os.readlink(root / "opt/lobby/bin") == "current/bin"
    version = subprocess.run([str(root / "opt/lobby/bin/lobby"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == "lobby 1.0.0"  # the build names itself
    first = _write(root, 0, 5)
    schema_n = first["schema"]
    assert first["version"] == "1.0.0" and first["ns"] == [0, 1, 2, 3, 4]

    # An older release left behind, and the gateway's compiled modules (PYTHONPYCACHEPREFIX, by
    # source path) of it and of 1.0.0: pruning to two releases removes 0.9.0 and its share.
    old = root / "opt/lobby/releases/0.9.0"
    (old / "bin").mkdir(parents=True)
    os.utime(old, (1_600_000_000, 1_600_000_000))
    cache = root / "var/cache/lobby/pycache/opt/lobby/releases"
    for name in ("0.9.0", "1.0.0"):
        (cache / name / "lib").mkdir(parents=True)
        (cache / name / "lib/module.cpython-311.opt-2.pyc").write_bytes(b"compiled")

    upgraded = _tool(root, "install", str(releases["n1"]), "--keep", "2")
    assert "healthy: 1.1.0" in upgraded.stdout and _current(root) == "releases/1.1.0"
    assert os.readlink(root / "opt/lobby/previous") == "releases/1.0.0"
    assert "removed the old release 0.9.0" in upgraded.stdout
    assert not old.exists() and not (cache / "0.9.0").exists()
    assert (cache / "1.0.0/lib/module.cpython-311.opt-2.pyc").exists()  # the previous release's cache stays
    second = _write(root, 5, 10)
    assert second["version"] == "1.1.0" and second["schema"] == schema_n + 1
    assert second["ns"] == list(range(10))

    rolled = _tool(root, "rollback")
    assert "healthy: 1.0.0" in rolled.stdout and _current(root) == "releases/1.0.0"
    third = _write(root, 10, 12)  # N opens the store N+1 expanded, and writes to it
    assert third["version"] == "1.0.0" and third["schema"] == schema_n + 1
    assert third["ns"] == list(range(12))  # nothing written since the upgrade was lost

    listed = _tool(root, "list").stdout
    assert "* 1.0.0" in listed and "< 1.1.0" in listed
    forward = _tool(root, "rollback")  # rolling back twice rolls forward
    assert _current(root) == "releases/1.1.0" and "healthy: 1.1.0" in forward.stdout


def test_an_unhealthy_release_is_switched_back_by_itself(tmp_path: Path, releases: dict[str, Path]) -> None:
    root = _lobby_root(tmp_path, releases["n"])
    _write(root, 0, 3)
    done = _tool(root, "install", str(releases["broken"]), "--gate-timeout", "1", check=False)
    assert done.returncode == 1
    assert "was not healthy and was rolled back to 1.0.0" in done.stderr, done.stderr
    assert "broken on purpose" in done.stderr
    assert _current(root) == "releases/1.0.0"
    assert _write(root, 3, 4)["ns"] == [0, 1, 2, 3]


def test_a_damaged_tarball_is_refused_and_nothing_changes(tmp_path: Path, releases: dict[str, Path]) -> None:
    root = _lobby_root(tmp_path, releases["n"])
    copy = tmp_path / releases["n1"].name
    data = bytearray(releases["n1"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    shutil.copy(str(releases["n1"]) + ".sha256", str(copy) + ".sha256")
    done = _tool(root, "install", str(copy), check=False)
    assert done.returncode != 0 and "damaged" in done.stderr
    assert _current(root) == "releases/1.0.0" and not (root / "opt/lobby/releases/1.1.0").exists()


def test_the_release_holds_only_hash_pinned_wheels(releases: dict[str, Path]) -> None:
    import tarfile

    with tarfile.open(releases["n"]) as tar:
        names = tar.getnames()
        requirements = tar.extractfile("lobby-1.0.0/requirements.txt").read().decode()  # type: ignore[union-attr]
        info = tar.extractfile("lobby-1.0.0/RELEASE").read().decode()  # type: ignore[union-attr]
    wheels = [n for n in names if n.startswith("lobby-1.0.0/wheels/")]
    assert wheels and all(n.endswith(".whl") for n in wheels)  # nothing to compile on a Pi
    assert any("/evdev-" in n for n in wheels)
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert len(pins) == len(wheels) and all("==" in p and "--hash=sha256:" in p for p in pins)
    assert "name=1.0.0" in info and "lobby.example.toml" in " ".join(names)


def test_every_build_has_a_name_from_git_or_the_tree(tmp_path: Path) -> None:
    """Issue #18: every build reported 0.1.0. A checkout is named by git describe; a tree without git
    by the package version and a digest of the tree; a built release by its _build.py."""
    from mqtt_bridge.version import VERSION

    named = subprocess.run(["bash", str(RELEASE), "name", "--source", str(REPO)], capture_output=True, text=True,
                           check=True).stdout.strip()
    if (REPO / ".git").exists():  # the service reports what a release built from here would be named
        assert "-g" in named and VERSION == named, (VERSION, named)
    plain = _tree_copy(tmp_path / "no-git")
    first = subprocess.run(["bash", str(RELEASE), "name", "--source", str(plain)], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert first.startswith("0.1.0+src.") and len(first) == len("0.1.0+src.") + 12, first
    (plain / "lobby/__init__.py").write_text((plain / "lobby/__init__.py").read_text() + "\n# changed\n")
    second = subprocess.run(["bash", str(RELEASE), "name", "--source", str(plain)], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert second != first  # a changed tree is another build
