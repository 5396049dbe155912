"""`[store] backup_target`: the nightly copy on the card, on a USB stick, or queued for central.

A temp folder stands in for the stick (the mount and device checks are injected); a plain
folder that is not a mount point is the stick left at home: the card copy stays and a
retained alert says what to do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lobby.cli.backup_cmd import backup_store, list_backups
from lobby.cli.backup_target import USB_ALERT, StickMissing, after_card_copy, check_stick, copy_to_stick
from lobby.gateway.backup_upload import CHUNK_BYTES, BackupUploader, file_sha256, register_upload, upload_state
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.store import Lane, Store, outbox

ROOT = Path(__file__).resolve().parents[2]


def _store_with_data(path: Path, kib: int = 200) -> None:
    with Store(path) as store:
        store.connection().execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
        with store.transaction() as tx:
            tx.execute("INSERT INTO filler VALUES (?)", (os.urandom(kib * 1024),))
            tx.emit("health", "gateway.started", {"version": "t", "config_version": 1})


@pytest.fixture
def card(tmp_path: Path) -> tuple[Path, Path]:
    state = tmp_path / "state"
    state.mkdir()
    _store_with_data(state / "lobby.db")
    return state, state / "lobby.db"


def _stick(stick: Path):
    """Injected checks: `stick` is a mount point on a device of its own."""
    return {"is_mount": lambda p: p == str(stick),
            "device_of": lambda p: 2 if Path(p) == stick else 1}


def test_the_stick_gets_an_atomic_private_copy_and_keeps_backup_keep(card: tuple[Path, Path], tmp_path: Path) -> None:
    state, db = card
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "holiday-photos.jpg").write_bytes(b"not ours")
    copies = []
    for _ in range(4):
        report = backup_store(db, state / "backups", keep=7)
        copies.append(report.path)
        result, warning = after_card_copy("usb", report.path, db, usb_dir=stick, state_dir=state, keep=2,
                                          **_stick(stick))
        assert warning is None and result["usb"] == str(stick / report.path.name)
    on_stick = [b.path.name for b in list_backups(stick)]
    assert on_stick == [copies[3].name, copies[2].name]  # the newest backup_keep, newest first
    assert len(list_backups(state / "backups")) == 4  # the card copies are kept as before
    newest = stick / copies[3].name
    assert file_sha256(newest) == file_sha256(copies[3])
    assert stat.S_IMODE(newest.stat().st_mode) == 0o600
    assert (stick / "holiday-photos.jpg").read_bytes() == b"not ours"  # other files are never touched
    assert not [p for p in stick.iterdir() if p.name.startswith(".")]  # no temp file left behind


def test_a_folder_that_is_not_a_mount_point_keeps_the_card_copy_and_raises_an_alert(
        card: tuple[Path, Path], tmp_path: Path) -> None:
    state, db = card
    stick = tmp_path / "media" / "lobby-backup"
    stick.mkdir(parents=True)  # the empty mount point on the card, stick not plugged in
    config = tmp_path / "lobby.toml"
    config.write_text(f'version = 1\nstate_dir = "{state}"\n[site]\nsite_id = "tower-a"\ngateway_id = "gw-test"\n'
                      f'name = "T"\ntimezone = "Asia/Shanghai"\n[mqtt]\nhost = "127.0.0.1"\n'
                      f'[store]\nbackup_target = "usb"\nbackup_usb_dir = "{stick}"\n')
    done = subprocess.run([sys.executable, "-m", "lobby.cli", "backup", "--config", str(config), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["target"] == "usb" and result["usb"] is None and result["reason"] == "not_mounted"
    assert Path(result["path"]).is_file() and list(stick.iterdir()) == []  # nothing written onto the card's folder
    assert "card only" in done.stderr
    with Store(db) as store:
        alert = AlertEngine(store).get(USB_ALERT)
        assert alert is not None and alert["state"] == "active" and alert["severity"] == "warning"
        assert "plug in the backup stick" in alert["title"] and str(stick) in alert["title"]
        raised = [json.loads(r["data"]) for r in store.query("SELECT data FROM outbox WHERE type = 'alert.raised'")]
        assert [a["key"] for a in raised] == [USB_ALERT]
    # the stick is back: the next copy lands on it and clears the alert
    report = backup_store(db, state / "backups", keep=7)
    result2, warning = after_card_copy("usb", report.path, db, usb_dir=stick, state_dir=state, keep=7, **_stick(stick))
    assert warning is None and Path(str(result2["usb"])).is_file()
    with Store(db) as store:
        assert AlertEngine(store).get(USB_ALERT)["state"] == "cleared"


def test_a_mount_point_on_the_state_dirs_device_is_refused(tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    with pytest.raises(StickMissing) as refused:
        check_stick(stick, tmp_path, is_mount=lambda p: True)  # a bind mount of the card, say
    assert refused.value.reason == "same_device"
    with pytest.raises(StickMissing) as missing:
        copy_to_stick(tmp_path / "x.db", tmp_path / "absent", tmp_path, 3)
    assert missing.value.reason == "not_mounted"


def test_target_card_writes_nothing_but_the_card_copy(card: tuple[Path, Path], tmp_path: Path) -> None:
    state, db = card
    report = backup_store(db, state / "backups", keep=7)
    result, warning = after_card_copy("card", report.path, db, usb_dir=tmp_path / "stick", state_dir=state, keep=7)
    assert result == {"target": "card"} and warning is None
    with Store(db) as store:
        assert upload_state(store) is None and AlertEngine(store).get(USB_ALERT) is None


def test_the_uploader_queues_one_window_at_a_time_and_resumes_from_the_store(card: tuple[Path, Path]) -> None:
    state, db = card
    report = backup_store(db, state / "backups", keep=7)
    result, _ = after_card_copy("central", report.path, db, usb_dir=state, state_dir=state, keep=7)
    size = report.path.stat().st_size
    assert result["chunks"] == -(-size // CHUNK_BYTES) > 4
    with Store(db) as store:
        assert BackupUploader(store, window=3).tick() == 3
        assert BackupUploader(store, window=3).tick() == 0  # the window is still in the outbox
        chunks = [json.loads(r["data"]) for r in store.query(
            "SELECT data FROM outbox WHERE type = 'backup.chunk' ORDER BY seq")]
        assert [c["index"] for c in chunks] == [0, 1, 2]
        assert all(r["lane"] == Lane.BULK for r in store.query("SELECT lane FROM outbox WHERE kind = 'backup'"))
        # the broker acknowledged them: a new uploader (a restarted gateway) goes on at index 3
        outbox.acknowledge(store.connection(), [r["seq"] for r in store.query("SELECT seq FROM outbox")])
        uploader = BackupUploader(store, window=3)
        while upload_state(store)["state"] == "uploading":
            uploader.tick()
            outbox.acknowledge(store.connection(), [r["seq"] for r in store.query("SELECT seq FROM outbox")])
        state_now = upload_state(store)
        assert state_now["state"] == "sent" and state_now["next"] == result["chunks"]
    # what went out, reassembled (published rows are gone; rebuild from the file to check chunk contents)
    with Store(db) as store:
        register_upload(store, report.path)
        uploader = BackupUploader(store, window=1000)
        uploader.tick()
        rows = [json.loads(r["data"]) for r in store.query("SELECT data FROM outbox WHERE kind = 'backup' ORDER BY seq")]
    *chunks, done = rows
    data = b"".join(base64.b64decode(c["data"]) for c in chunks)
    assert hashlib.sha256(data).hexdigest() == done["sha256"] == file_sha256(report.path)
    assert all(len(c["data"]) <= 48 * 1024 for c in chunks)
    assert all(hashlib.sha256(base64.b64decode(c["data"])).hexdigest() == c["chunk_sha256"] for c in chunks)


def test_a_copy_rotated_away_before_its_upload_is_given_up(card: tuple[Path, Path]) -> None:
    state, db = card
    report = backup_store(db, state / "backups", keep=7)
    with Store(db) as store:
        register_upload(store, report.path)
        report.path.unlink()
        assert BackupUploader(store).tick() == 0
        assert upload_state(store)["state"] == "abandoned"
        assert store.scalar("SELECT count(*) FROM outbox WHERE kind = 'backup'") == 0
