"""The release tarballs the release tests install (tests/deploy/test_deploy_release.py,
test_deploy_fleet_upgrade.py), built once per test session: N (1.0.0), N+1 (1.1.0, with one more,
additive, migration) and a broken one (1.2.0-broken: its `lobby doctor` always fails).

The `releases` fixture (tests/deploy/conftest.py) is session-scoped and the modules using it share
the xdist group "release", so one worker builds the three tarballs once for all of them. The
dependency wheels come from the lock file through pip download, kept in
~/.cache/lobby-release-test/wheelhouse between runs ($LOBBY_RELEASE_WHEELHOUSE), hash-checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import REPO

RELEASE = REPO / "systemd" / "release.sh"
CACHE = Path(os.environ.get("LOBBY_RELEASE_WHEELHOUSE", Path.home() / ".cache" / "lobby-release-test" / "wheelhouse"))

EXPAND_MIGRATION = '''

@expand
def _v_release_test(conn: sqlite3.Connection) -> None:
    # Added only by tests/deploy/test_deploy_release.py's release N+1: a table and a column.
    conn.execute("CREATE TABLE release_notes (id INTEGER PRIMARY KEY, note TEXT)")
    conn.execute("ALTER TABLE feedback ADD COLUMN release_note TEXT")


MIGRATIONS.append(_v_release_test)
LATEST = len(MIGRATIONS)
'''

BROKEN_DOCTOR = '''

def run(args):  # release test: a build whose health check always fails
    print("this release is broken on purpose")
    return 1
'''


def _tree_copy(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "dist", "build", "*.db",
                                    "*.db-wal", "*.db-shm", ".pytest_cache", ".hypothesis", "pub*.out", "_build.py")
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def _build(source: Path, version: str, out: Path) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["bash", str(RELEASE), "build", "--source", str(source), "--version", version,
                           "--out", str(out), "--wheelhouse", str(CACHE)],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHON": sys.executable})
    if done.returncode != 0 and "pip download failed" in done.stderr:
        pytest.skip("the package index cannot be reached to fetch the locked wheels: " + done.stderr[-300:])
    assert done.returncode == 0, done.stdout + done.stderr
    tarball = Path(done.stdout.strip().splitlines()[-1])
    assert tarball.is_file() and tarball.name.startswith(f"lobby-{version}-")
    return tarball


def build_releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("releases")
    out = work / "dist"
    n = _build(REPO, "1.0.0", out)
    newer = _tree_copy(work / "src-n1")
    migrations = newer / "mqtt_bridge/store/migrations.py"
    migrations.write_text(migrations.read_text() + EXPAND_MIGRATION)
    n1 = _build(newer, "1.1.0", out)
    broken = _tree_copy(work / "src-broken")
    doctor = broken / "lobby/cli/doctor_cmd.py"
    doctor.write_text(doctor.read_text() + BROKEN_DOCTOR)
    bad = _build(broken, "1.2.0-broken", out)
    return {"n": n, "n1": n1, "broken": bad}
