"""docs/configuration.md is the config model's own reference: regenerated, it is unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lobby.config import scope
from lobby.config.model import Config
from lobby.config.reference import example_notes, keys, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_is_what_the_model_says() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md differs from the config model: run "
        "`.venv/bin/lobby config reference > docs/configuration.md`")


def test_every_key_of_the_model_is_in_it_once_with_who_may_change_it() -> None:
    documented = [k.path for k in keys()]
    assert sorted(documented) == sorted(scope.model_keys(Config))
    assert len(documented) == len(set(documented))
    assert all(k.who.startswith(("central", "on site")) for k in keys())


def test_defaults_ranges_and_floors_are_the_model_s() -> None:
    by_path = {k.path: k for k in keys()}
    assert by_path["service.complaint_reply_h"].default == "2"
    assert by_path["service.complaint_reply_h"].allowed == "> 0, <= 720"
    assert by_path["security.pin_max_attempts"].allowed == ">= 1, <= 20"
    assert by_path["site.site_id"].default == "required"
    assert by_path["visitors.pass_valid_until"].default == '"23:59"'
    assert by_path["privacy.visitor_retention_days"].who == "on site; central may only tighten (a smaller value)"
    assert "allow_tls_off" in by_path["mqtt.tls.enabled"].who
    assert by_path["logging.level"].type == 'one of "DEBUG", "INFO", "WARNING", "ERROR"'


def test_example_notes_follow_tables_and_continuation_lines() -> None:
    text = """
version = 1   # bump it
[mqtt]
port = 8883
# hosts = ["a:1"]
#                                  # a cluster's nodes
#                                  # tried in order
[[meters]]
interval_s = 60   # polling
"""
    notes = example_notes(text)
    assert notes == {"version": "bump it", "mqtt.hosts": "a cluster's nodes tried in order",
                     "meters[].interval_s": "polling"}


def test_the_cli_prints_it() -> None:
    done = subprocess.run([sys.executable, "-m", "lobby.cli", "config", "reference"], capture_output=True,
                          text=True, check=True)
    assert done.stdout == render()
