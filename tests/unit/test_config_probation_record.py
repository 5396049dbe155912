"""The probation record beside lobby.toml (lobby/config/probation.py), without a gateway."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lobby.config import probation


def _push(tmp_path: Path, probation_s: float = 300) -> Path:
    """lobby.toml at version 2 as a push leaves it: the record opened, the old file as .previous."""
    config = tmp_path / "lobby.toml"
    config.with_name("lobby.toml.previous").write_text("version = 1\n")
    probation.begin(config, 2, 1, probation_s)
    config.write_text("version = 2\n")
    return config


def _record(config: Path) -> dict:
    return json.loads(config.with_name("lobby.toml.probation").read_text())


def test_a_start_within_the_time_watches_and_counts(tmp_path: Path) -> None:
    config = _push(tmp_path)
    first = probation.at_start(config)
    assert first.watch is not None and first.report is None and first.watch.starts == 1
    assert probation.at_start(config).watch.starts == 2  # type: ignore[union-attr]
    assert _record(config)["status"] == "probation" and config.read_text() == "version = 2\n"


def test_the_time_spent_is_carried_across_restarts_and_reverts_at_start(tmp_path: Path) -> None:
    config = _push(tmp_path, probation_s=5)
    state = probation.load(config)
    assert state is not None
    state.started_mono = time.monotonic() - 6  # the process ran on it for 6 s before it died
    probation.save(config, state)
    decision = probation.at_start(config)
    assert decision.reverted_now and decision.report is not None and decision.watch is None
    assert config.read_text() == "version = 1\n"
    assert config.with_name("lobby.toml.rejected").read_text() == "version = 2\n"
    assert "within 5 s" in decision.report.reason  # type: ignore[operator]
    # the next start reports it (once) and watches nothing: the file put back is not on probation
    again = probation.at_start(config)
    assert again.report is not None and again.watch is None
    probation.mark_reported(config, again.report)
    assert probation.at_start(config).report is None


def test_a_reboot_during_the_probation_carries_the_time_spent(tmp_path: Path) -> None:
    config = _push(tmp_path, probation_s=100)
    state = probation.load(config)
    assert state is not None
    state.boot_id, state.elapsed_s = "an-earlier-boot", 60.0
    probation.save(config, state)
    decision = probation.at_start(config)
    assert decision.watch is not None
    assert 39 <= decision.watch.remaining() <= 40  # the 60 s spent before the reboot count


def test_a_crash_loop_on_the_pushed_version_is_reverted_after_a_few_starts(tmp_path: Path) -> None:
    config = _push(tmp_path)
    for _ in range(probation.MAX_STARTS):
        assert probation.at_start(config).watch is not None
    decision = probation.at_start(config)
    assert decision.reverted_now and "started 5 times" in decision.report.reason  # type: ignore[union-attr, operator]
    assert config.read_text() == "version = 1\n"


def test_a_push_that_never_landed_or_an_on_site_edit_is_not_on_probation(tmp_path: Path) -> None:
    config = _push(tmp_path)
    config.write_text("version = 7\n")  # a person on site wrote another file meanwhile
    assert probation.at_start(config).watch is None
    assert _record(config)["status"] == "abandoned" and config.read_text() == "version = 7\n"


def test_a_revert_interrupted_before_the_file_was_put_back_is_finished_at_start(tmp_path: Path) -> None:
    config = _push(tmp_path)
    state = probation.load(config)
    assert state is not None
    state.status, state.reason = "reverted", "test"  # the record was written, then the power went
    probation.save(config, state)
    assert probation.at_start(config).report is not None
    assert config.read_text() == "version = 1\n"


def test_a_reverted_version_is_refused_and_so_is_a_push_during_a_probation(tmp_path: Path) -> None:
    config = _push(tmp_path)
    assert "still on probation" in (probation.refusal(config, 3) or "")
    state = probation.at_start(config).watch
    assert state is not None
    probation.revert(config, state, "no PUBACK")
    assert "was reverted on this gateway" in (probation.refusal(config, 2) or "")
    assert probation.refusal(config, 3) is None
    probation.begin(config, 3, 1, 300)  # a new push keeps the list of reverted versions
    assert [r["version"] for r in _record(config)["rejected"]] == [2]


def test_a_damaged_record_is_ignored(tmp_path: Path) -> None:
    config = _push(tmp_path)
    config.with_name("lobby.toml.probation").write_text("{not json")
    assert probation.at_start(config).watch is None
    assert probation.refusal(config, 2) is None


@pytest.mark.parametrize("error", ["TLS: ... does not verify against ca_file=/etc/lobby/ca.crt (x)",
                                   "cannot read /etc/lobby/mqtt-password"])
def test_the_reason_sent_to_central_names_no_file_path(tmp_path: Path, error: str) -> None:
    config = _push(tmp_path, probation_s=5)
    state = probation.load(config)
    assert state is not None
    state.last_error, state.started_mono = error, time.monotonic() - 10
    probation.save(config, state)
    reason = probation.at_start(config).report.reason  # type: ignore[union-attr]
    assert "/etc/lobby" not in reason and "<path>" in reason  # type: ignore[operator]
