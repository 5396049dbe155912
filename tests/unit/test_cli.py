"""The `lobby` command: every subcommand is listed, importable and documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lobby.cli import SUBCOMMANDS, build_parser
from mqtt_bridge.version import VERSION

ROOT = Path(__file__).resolve().parents[2]


def _lobby(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lobby.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_help_lists_every_subcommand() -> None:
    result = _lobby("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


def test_version() -> None:
    result = _lobby("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"lobby {VERSION}"


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_each_subcommand_builds_its_arguments(name: str) -> None:
    parser = build_parser(name)
    with pytest.raises(SystemExit) as info:
        parser.parse_args([name, "--help"])
    assert info.value.code == 0


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = _lobby("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr
