"""Every config key is read by the product: a setting that nothing reads is a promise nobody keeps.

Walks every field of the config model (sections, list items, nested sections) and looks for a read of it
in the product's code: an attribute access `.name` or getattr(x, "name") anywhere in kiosk/, lobby/,
mqtt_bridge/ and drivers/, including the config model's own methods and properties (`window_min`,
`bridge`) but not its validators, which only check values. Keys read outside Python are named with the
file that reads them.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from lobby.config.model import Config

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("kiosk", "lobby", "mqtt_bridge", "drivers")
READ_ELSEWHERE = {  # key path -> the non-Python file that reads it
    "privacy.purge_at": "systemd/install.sh",
}
VALIDATOR_DECORATORS = {"model_validator", "field_validator"}


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, info in model.model_fields.items():
        yield prefix + name, name
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _fields(inner, f"{prefix}{name}.")


def _is_validator(node: ast.AST) -> bool:
    if not isinstance(node, ast.FunctionDef):
        return False
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Name) and target.id in VALIDATOR_DECORATORS:
            return True
    return False


def _reads(tree: ast.AST, skip_validators: bool) -> set[str]:
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if skip_validators and _is_validator(node):
            continue
        if isinstance(node, ast.Attribute):
            found.add(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            found.add(str(node.args[1].value))
        stack.extend(ast.iter_child_nodes(node))
    return found


def product_reads() -> set[str]:
    model = ROOT / "lobby" / "config" / "model.py"
    found: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            found |= _reads(ast.parse(path.read_text(encoding="utf-8")), skip_validators=path == model)
    return found


def test_every_config_key_is_read_by_the_product() -> None:
    reads = product_reads()
    unread = sorted(path for path, name in _fields(Config) if name not in reads and path not in READ_ELSEWHERE)
    assert unread == [], f"config keys read by nothing (wire them to a behaviour or remove them): {unread}"


def test_keys_read_elsewhere_are_really_read_there() -> None:
    for path, where in READ_ELSEWHERE.items():
        assert f'"{path.split(".")[-1]}"' in (ROOT / where).read_text(encoding="utf-8"), (path, where)


def test_the_check_sees_a_key_nobody_reads() -> None:
    class Probe(BaseModel):
        surely_nobody_reads_this_key_xyz: int = 1

    assert "surely_nobody_reads_this_key_xyz" not in product_reads()
    assert dict(_fields(Probe)) == {"surely_nobody_reads_this_key_xyz": "surely_nobody_reads_this_key_xyz"}
