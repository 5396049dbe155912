"""The kiosk starts without waiting for the network or the gateway.

A boot without network would otherwise show a blank screen for the whole wait-online timeout:
the gateway waits for network-online.target, so anything ordered after the gateway waits too.
The kiosk and the gateway share only the SQLite store, which both open safely in any order.

The walk reads the units exactly as `install.sh --root` installs them (drop-ins included, in both
kiosk modes) and follows After=, Requires=, Requisite=, BindsTo= and Wants= from lobby-kiosk.service
through our own units, and Before= of our own units backwards (X Before=kiosk orders the kiosk after X).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_helpers import run_install

FORWARD = ("After", "Requires", "Requisite", "BindsTo", "Wants")
FORBIDDEN = {"network-online.target", "lobby-gateway.service"}


def _installed(tmp_path: Path, mode: str) -> Path:
    root = tmp_path / mode
    run_install("--root", str(root), "--kiosk-mode", mode)
    return root / "etc/systemd/system"


def _directives(unit_dir: Path, name: str) -> dict[str, list[str]]:
    """A unit's dependency directives with its drop-ins applied (an empty assignment resets the list)."""
    out: dict[str, list[str]] = {}
    files = [unit_dir / name, *sorted((unit_dir / f"{name}.d").glob("*.conf"))]
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            if "=" not in line or line.lstrip().startswith(("#", ";")):
                continue
            key, _, value = line.partition("=")
            key = key.strip()
            if key in (*FORWARD, "Before"):
                out[key] = [] if not value.strip() else out.get(key, []) + value.split()
    return out


def _reached(unit_dir: Path, start: str) -> set[str]:
    """Every unit `start` waits for or pulls in, through our own units."""
    ours = {p.name for p in unit_dir.glob("lobby-*") if p.is_file()}
    before: dict[str, set[str]] = {}  # unit -> our units that declare Before= it
    for name in ours:
        for target in _directives(unit_dir, name).get("Before", []):
            before.setdefault(target, set()).add(name)
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        nxt = set(before.get(name, ()))
        if name in ours:
            d = _directives(unit_dir, name)
            nxt |= {u for key in FORWARD for u in d.get(key, [])}
        todo.extend(nxt - seen)
    return seen - {start}


@pytest.mark.parametrize("mode", ["kms", "cage"])
def test_kiosk_waits_for_neither_the_network_nor_the_gateway(tmp_path: Path, mode: str) -> None:
    unit_dir = _installed(tmp_path, mode)
    assert (unit_dir / "lobby-kiosk.service").is_file()
    reached = _reached(unit_dir, "lobby-kiosk.service")
    assert not reached & FORBIDDEN, f"lobby-kiosk.service ({mode}) waits for {sorted(reached & FORBIDDEN)}"
    # the walk is a real one: the gateway does wait for the network
    assert "network-online.target" in _reached(unit_dir, "lobby-gateway.service")


def test_the_walk_finds_a_wait_hidden_behind_a_drop_in_or_a_before(tmp_path: Path) -> None:
    unit_dir = _installed(tmp_path, "kms")
    drop = unit_dir / "lobby-kiosk.service.d"
    drop.mkdir(exist_ok=True)
    (drop / "late.conf").write_text("[Unit]\nAfter=lobby-purge.service\n")
    (unit_dir / "lobby-purge.service").write_text(
        (unit_dir / "lobby-purge.service").read_text() + "\n[Unit]\nAfter=network-online.target\n")
    assert "network-online.target" in _reached(unit_dir, "lobby-kiosk.service")
    (drop / "late.conf").unlink()
    gateway = unit_dir / "lobby-gateway.service"
    gateway.write_text(gateway.read_text().replace("[Unit]\n", "[Unit]\nBefore=lobby-kiosk.service\n", 1))
    assert "lobby-gateway.service" in _reached(unit_dir, "lobby-kiosk.service")
