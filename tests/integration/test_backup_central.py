"""`[store] backup_target = "central"` end to end: `lobby backup`, a real `lobby gateway --simulate`,
a real mosquitto and a central client that reassembles the file from `backup.chunk` events.

The gateway is killed (SIGKILL) in the middle of the upload and started again: the upload goes
on from where it stood (only the window in flight is sent twice) and the file central puts
together is byte for byte the copy on the card, a store `lobby restore` accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from lobby.cli.restore_cmd import inspect_backup
from lobby.config import load_config, state_path
from lobby.gateway.backup_upload import WINDOW, file_sha256, upload_state
from mqtt_bridge.store import Store
from tests.helpers.broker import Broker
from tests.helpers.central import Central
from tests.helpers.gateway_rig import GatewayProcess, gateway_config

ROOT = Path(__file__).resolve().parents[2]


def _reassemble(central: Central, backup_id: str) -> tuple[bytes, int]:
    chunks = [e["data"] for e in central.events_of("backup.chunk") if e["data"]["backup_id"] == backup_id]
    by_index: dict[int, bytes] = {}
    for chunk in chunks:
        data = base64.b64decode(chunk["data"])
        assert hashlib.sha256(data).hexdigest() == chunk["chunk_sha256"]
        by_index.setdefault(chunk["index"], data)
    count = chunks[0]["count"]
    assert sorted(by_index) == list(range(count))
    return b"".join(by_index[i] for i in range(count)), len(chunks)


def test_a_backup_reaches_central_in_chunks_and_survives_a_gateway_kill(broker: Broker, tmp_path: Path) -> None:
    config = tmp_path / "lobby.toml"
    config.write_text(gateway_config(tmp_path / "state", broker.port, meters=False,
                                     extra='[store]\nbackup_target = "central"\n'))
    cfg = load_config(config)
    db = state_path(cfg, cfg.store.path)
    with Store(db) as store:  # a store of a few MB, as after months of use
        store.connection().execute("CREATE TABLE filler (b BLOB)")
        with store.transaction() as tx:
            for _ in range(6):
                tx.execute("INSERT INTO filler VALUES (?)", (os.urandom(1 << 20),))
    done = subprocess.run([sys.executable, "-m", "lobby.cli", "backup", "--config", str(config), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    backup = Path(result["path"])
    backup_id, count = result["backup_id"], result["chunks"]
    assert count > 8 * WINDOW

    central = Central(broker.port, cfg.base_topic)
    log_path = tmp_path / "gateway.log"
    gateway = GatewayProcess(config, log_path).start()
    try:
        central.wait_for(lambda: len(central.events_of("backup.chunk")) >= 2 * WINDOW, timeout=90,
                         what=f"the upload under way\n{log_path.read_text(errors='replace')[-3000:]}")
        gateway.kill()
        with Store(db) as store:
            stood = upload_state(store)
        assert stood is not None and stood["state"] == "uploading" and 0 < stood["next"] < count
        before = len(central.events_of("backup.chunk"))
        gateway = GatewayProcess(config, log_path).start()
        central.wait_for(lambda: central.events_of("backup.done"), timeout=180,
                         what=f"backup.done\n{log_path.read_text(errors='replace')[-3000:]}")
        central.wait_for(lambda: len({e["data"]["index"] for e in central.events_of("backup.chunk")}) == count,
                         timeout=30, what="every chunk")
    finally:
        gateway.stop()
        central.close()
    assert central.invalid == []  # every message followed the contract (events/backup.json, batch.json)
    data, received = _reassemble(central, backup_id)
    (final,) = [e["data"] for e in central.events_of("backup.done")]
    assert final == {"backup_id": backup_id, "count": count, "size": len(data), "sha256": final["sha256"]}
    assert hashlib.sha256(data).hexdigest() == final["sha256"] == file_sha256(backup)
    # resumed, not restarted: at most the window in flight at the kill came twice
    assert before < count and received <= count + 2 * WINDOW, (before, received, count)
    copy = tmp_path / f"{backup_id}.db"
    copy.write_bytes(data)
    assert inspect_backup(copy)["seq"] >= 0  # a sound store, ready for `lobby restore`
    with Store(db) as store:
        assert upload_state(store)["state"] == "sent"
        assert store.scalar("SELECT count(*) FROM outbox WHERE kind = 'backup'") == 0
