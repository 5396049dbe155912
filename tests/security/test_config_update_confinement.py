"""What a config.update from central may not do without the site's consent.

tests/integration/test_commands.py already covers: an invalid or older config, a
version mismatch, an absolute store.path outside the state directory, and TLS
switched off. Here: every other way out of the state directory (relative `..`,
a symlink inside it, the backup and export folders), disabling certificate
verification, changing the state directory or the [security] section itself,
remote configuration switched off on site, and that the site's own
allow_tls_off does let it through. A refused update leaves the file byte for byte.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mqtt_bridge.alerts import AlertEngine
from lobby.cardhash import load_key
from lobby.commands import CommandContext, default_specs
from mqtt_bridge.commands import CommandIntake
from lobby.config import load_config
from lobby.config.update import ConfigUpdateRejected, check_update
from mqtt_bridge.store import Store

BASE = """version = 1
state_dir = "{state}"
[site]
site_id = "tower-a"
gateway_id = "gw-test"
[mqtt]
host = "127.0.0.1"
port = 8883
[mqtt.tls]
enabled = true
ca_file = "/etc/lobby/ca.crt"
{extra}
"""


def _write(tmp_path: Path, extra: str = "") -> Path:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    path = tmp_path / "lobby.toml"
    path.write_text(BASE.format(state=state, extra=extra))
    return path


def _pushed(path: Path, version: int, change: str) -> str:
    """The current file, one version newer, with `change` appended or substituted (old=>new)."""
    text = path.read_text().replace("version = 1", f"version = {version}", 1)
    if "=>" in change:
        old, new = change.split("=>", 1)
        assert old in text, old
        return text.replace(old, new, 1)
    return text + "\n" + change + "\n"


REFUSED = [
    ("store path up and out", '[store]\npath = "../outside.db"', "store.path must stay inside the state directory"),
    ("store path deep escape", '[store]\npath = "a/../../../../etc/lobby.db"', "store.path must stay inside"),
    ("backup dir absolute", '[store]\nbackup_dir = "/tmp/backups"', "store.backup_dir must stay inside"),
    ("backup dir relative escape", '[store]\nbackup_dir = "../backups"', "store.backup_dir must stay inside"),
    ("state dir moved", 'state_dir = "{state}"=>state_dir = "/tmp/elsewhere"', "state_dir cannot be changed remotely"),
    ("tls off", "enabled = true=>enabled = false", "switching TLS off remotely is not allowed"),
    ("verification off", 'ca_file = "/etc/lobby/ca.crt"=>ca_file = "/etc/lobby/ca.crt"\ninsecure_skip_verify = true',
     "disabling certificate verification remotely is not allowed"),
    ("security: allow tls off", "[security]\nallow_tls_off = true", "the [security] section can only be changed on site"),
    ("security: remote config off", "[security]\nallow_remote_config = false",
     "the [security] section can only be changed on site"),
]


@pytest.mark.parametrize(("label", "change", "expected"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_pushed_config_cannot_escape_or_weaken(tmp_path: Path, label: str, change: str, expected: str) -> None:
    path = _write(tmp_path)
    current = load_config(path)
    text = _pushed(path, 2, change.format(state=current.state_dir))
    with pytest.raises(ConfigUpdateRejected, match=expected.replace("[", r"\[").replace("]", r"\]")):
        check_update(current, path, 2, text)


def test_a_symlink_inside_the_state_directory_does_not_lead_out(tmp_path: Path) -> None:
    path = _write(tmp_path)
    current = load_config(path)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, Path(current.state_dir) / "link")
    with pytest.raises(ConfigUpdateRejected, match="store.path must stay inside"):
        check_update(current, path, 2, _pushed(path, 2, '[store]\npath = "link/lobby.db"'))
    with pytest.raises(ConfigUpdateRejected, match="store.backup_dir must stay inside"):
        check_update(current, path, 2, _pushed(path, 2, '[store]\nbackup_dir = "link"'))


def test_paths_inside_the_state_directory_are_still_on_site_keys(tmp_path: Path) -> None:
    # Issue #13: every file path is the site's to set; moving the store even inside the state
    # directory would start the gateway on an empty store. Central's own keys still go through.
    path = _write(tmp_path)
    current = load_config(path)
    with pytest.raises(ConfigUpdateRejected, match="only a person on site may change store.backup_dir, store.path"):
        check_update(current, path, 2, _pushed(path, 2, '[store]\npath = "db/lobby.db"\nbackup_dir = "bk"'))
    new = check_update(current, path, 2, _pushed(path, 2, '[service]\ncomplaint_reply_h = 1.5'))
    assert new.version == 2 and new.service.complaint_reply_h == 1.5


def test_the_site_may_allow_tls_off_and_then_it_goes_through(tmp_path: Path) -> None:
    path = _write(tmp_path, "[security]\nallow_tls_off = true")
    current = load_config(path)
    assert check_update(current, path, 2, _pushed(path, 2, "enabled = true=>enabled = false")).mqtt.tls.enabled is False


def test_remote_configuration_switched_off_on_site_refuses_everything(tmp_path: Path) -> None:
    path = _write(tmp_path, "[security]\nallow_remote_config = false")
    current = load_config(path)
    with pytest.raises(ConfigUpdateRejected, match="remote configuration is switched off"):
        check_update(current, path, 2, _pushed(path, 2, "[kiosk]\nidle_timeout_s = 90"))


def test_the_export_folder_for_personal_data_cannot_be_moved_out(tmp_path: Path) -> None:
    path = _write(tmp_path)
    current = load_config(path)
    with pytest.raises(ConfigUpdateRejected):
        check_update(current, path, 2, _pushed(path, 2, '[privacy]\nexport_dir = "/tmp/world-readable"'))


def test_a_refused_update_through_the_intake_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = _write(tmp_path)
    before = path.read_bytes()
    cfg = load_config(path)
    store = Store(Path(cfg.state_dir) / "lobby.db")
    try:
        ctx = CommandContext(cfg, path, AlertEngine(store), load_key(cfg.state_dir))
        intake = CommandIntake(store, default_specs(ctx), cfg.mqtt.command_max_bytes)
        for n, (_, change, expected) in enumerate(REFUSED):
            text = _pushed(path, 2, change.format(state=cfg.state_dir))
            body = json.dumps({"id": f"cfg-{n}", "ts": "2026-11-25T10:00:00Z", "data": {"version": 2, "toml": text}})
            result = intake.handle("config.update", body.encode())
            assert result.ok is False and expected.split(" must")[0] in (result.error or ""), result.error
            assert path.read_bytes() == before
            assert not path.with_name(path.name + ".previous").exists()
        assert store.scalar("SELECT count(*) FROM outbox WHERE type = 'config.applied'") == 0
    finally:
        store.close()
