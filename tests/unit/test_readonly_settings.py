"""Settings read without pydantic (lobby/config/readonly.py, mqtt_bridge/modelkit.py).

The gateway and the bridge validate their file in a child and hold plain records: they
must see exactly what a validating process sees, the same properties included, and a
file with mistakes must be explained in the same words.
"""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from lobby.config import load_config
from lobby.config.readonly import Node, as_model, from_nodes, to_nodes
from mqtt_bridge import records
from tests.helpers.gateway_rig import many_meters
from tests.helpers.site_config import site_toml

ROOT = Path(__file__).resolve().parents[2]

READ_ONLY_CHILD = r"""
import pickle, sys
from lobby.config.readonly import load_read_only, to_nodes
cfg = load_read_only(sys.argv[1])
derived = {"base_topic": cfg.base_topic, "client_id": cfg.client_id, "bridge": repr(cfg.bridge.__dict__.keys()),
           "endpoints": list(cfg.mqtt.endpoints), "padded": [m.padded_address for m in cfg.meters],
           "windows": [[r.window_min(c) for c in r.checkpoints] for r in cfg.patrol.routes],
           "bulk_max_bytes": cfg.bridge.bulk_max_bytes}
sys.stdout.buffer.write(pickle.dumps((to_nodes(cfg), derived, "pydantic" in sys.modules, type(cfg).__mro__[-2].__module__)))
"""

PATROL = """
[patrol]
checkpoints = [ { id = "cp-a", name = "A", place = "Lobby", tag_uid = "04A1B2C3D4E501" },
                { id = "cp-b", name = "B", place = "Roof", tag_uid = "04A1B2C3D4E502" } ]
guards = [ { id = "g-1", name = "G", card_uid = "7E11AA01" } ]
routes = [ { id = "r", name = "R", checkpoints = ["cp-a", "cp-b", "cp-a"] } ]
"""


def _files(tmp_path: Path) -> dict[str, Path]:
    devices = tmp_path / "devices.toml"
    devices.write_text(site_toml(tmp_path / "state", 1883, extra=PATROL + many_meters(12, 3),
                                 hosts=["mqtt-1.example.com:8883", "mqtt-2.example.com"]))
    return {"example": ROOT / "config" / "example.toml", "devices": devices}


@pytest.mark.parametrize("name", ["example", "devices"])
def test_a_read_only_process_sees_what_a_validating_one_sees(tmp_path: Path, name: str) -> None:
    path = _files(tmp_path)[name]
    done = subprocess.run([sys.executable, "-c", READ_ONLY_CHILD, str(path)], cwd=ROOT, capture_output=True,
                          check=True, timeout=60)
    nodes, derived, has_pydantic, base_module = pickle.loads(done.stdout)
    validated = load_config(path)
    assert nodes == to_nodes(validated)  # every value, every nested class, in every list
    assert not has_pydantic and base_module == "mqtt_bridge.records"
    assert derived["base_topic"] == validated.base_topic and derived["client_id"] == validated.client_id
    assert derived["endpoints"] == list(validated.mqtt.endpoints)
    assert derived["padded"] == [m.padded_address for m in validated.meters]
    assert derived["windows"] == [[r.window_min(c) for c in r.checkpoints] for r in validated.patrol.routes]
    assert derived["bulk_max_bytes"] == validated.bridge.bulk_max_bytes


def test_the_tree_goes_back_into_pydantic_models_unchanged(tmp_path: Path) -> None:
    """What the config.update checker child does with the gateway's settings in force."""
    for path in _files(tmp_path).values():
        validated = load_config(path)
        assert from_nodes(to_nodes(validated), as_model) == validated


def test_only_the_settings_modules_are_rebuilt_from_a_tree() -> None:
    with pytest.raises(ValueError, match="not a settings module"):
        from_nodes(Node("os", "system", {}), as_model)


BAD = """version = 1
[site]
site_id = "s"
gateway_id = "g"
nmae = "x"
[mqtt]
host = "localhost"
port = 99999
"""


@pytest.mark.parametrize("service", ["gateway", "bridge"])
def test_a_file_with_mistakes_is_explained_as_config_check_explains_it(tmp_path: Path, service: str) -> None:
    path = tmp_path / "lobby.toml"
    path.write_text(BAD)
    run = [sys.executable, "-m", "lobby.cli"]
    checked = subprocess.run(run + ["config", "check", str(path)], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    served = subprocess.run(run + [service, "--config", str(path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert served.returncode == checked.returncode == 2
    lines = served.stderr.strip().splitlines()
    assert lines == checked.stdout.strip().splitlines() or lines == checked.stderr.strip().splitlines()
    assert any("site.nmae: unknown key" in line for line in lines) and any("mqtt.port" in line for line in lines)
    assert "Traceback" not in served.stderr


class Door(records.BaseModel):
    name: str
    opens: dt.time = dt.time(7, 0)
    pins: list[int] = records.Field(default_factory=list, max_length=3)
    code: str | None = records.Field(None, repr=False)


def test_records_are_frozen_records_of_their_fields() -> None:
    door = Door(name="east", pins=[1, 2], code="1234")
    assert (door.name, door.opens, door.pins) == ("east", dt.time(7, 0), [1, 2])
    assert Door(name="west").pins == [] and Door(name="west").code is None
    with pytest.raises(TypeError, match="frozen"):
        door.name = "west"  # type: ignore[misc]
    with pytest.raises(TypeError, match="needs 'name'"):
        Door()
    with pytest.raises(TypeError, match="no field 'colour'"):
        Door(name="east", colour="red")
    moved = door.model_copy(update={"name": "north"})
    assert moved.name == "north" and door.name == "east" and moved.pins == door.pins
    assert door == Door(name="east", pins=[1, 2], code="1234") and door != moved
    assert "1234" not in repr(door) and "east" not in repr(door)  # names only: values may be personal or secret
    assert door.model_dump() == {"name": "east", "opens": dt.time(7, 0), "pins": [1, 2], "code": "1234"}


def test_the_children_answers_are_unpickled_from_an_allow_list() -> None:
    """A pushed file is central's text: whatever comes back from the checker may only be a settings tree."""
    import os

    from lobby.config.readonly import loads

    tree = Node("lobby.config.model", "ShiftsConfig", {"start": dt.time(8, 0), "names": ["a"], "n": 1})
    assert loads(pickle.dumps(("ok", tree))) == ("ok", tree)
    with pytest.raises(pickle.UnpicklingError, match="not part of a settings tree"):
        loads(pickle.dumps(("ok", os.system)))


AGAIN_CHILD = r"""
import pickle, sys, threading
from lobby.config.readonly import load_read_only, to_nodes
first = load_read_only(sys.argv[1])             # a fork: no thread yet
threading.Thread(target=threading.Event().wait, daemon=True).start()
again = load_read_only(sys.argv[1])             # records chosen and a thread running: a fresh interpreter
sys.stdout.buffer.write(pickle.dumps((to_nodes(first), to_nodes(again), "pydantic" in sys.modules)))
"""


def test_loading_again_with_threads_running_takes_a_fresh_child(tmp_path: Path) -> None:
    path = _files(tmp_path)["devices"]
    done = subprocess.run([sys.executable, "-c", AGAIN_CHILD, str(path)], cwd=ROOT, capture_output=True,
                          check=True, timeout=120)
    first, again, has_pydantic = pickle.loads(done.stdout)
    assert first == again == to_nodes(load_config(path)) and not has_pydantic
