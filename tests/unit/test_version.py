"""Every build reports its own name (issue #18: every build said 0.1.0)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from mqtt_bridge import version


def test_a_release_build_reports_the_name_written_at_build_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mqtt_bridge._build", types.SimpleNamespace(VERSION="1.4.0-3-gabc1234"))
    assert version._version() == "1.4.0-3-gabc1234"


def test_a_checkout_is_named_by_git_and_a_bare_tree_says_it_is_unnamed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mqtt_bridge._build", None)  # no release build
    assert version._from_git(tmp_path) is None  # not a checkout
    repo = Path(version.__file__).resolve().parents[1]
    if (repo / ".git").exists():
        named = version._from_git(repo)
        assert named is not None and "-g" in named or (named or "")[:1].isdigit()


def test_the_status_payload_and_ping_carry_the_build_name() -> None:
    from mqtt_bridge.mqtt_client import status_payload

    assert json.loads(status_payload("online"))["version"] == version.VERSION
    assert version.VERSION not in ("", "0.1.0")
