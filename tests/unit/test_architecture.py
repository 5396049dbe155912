"""The package map holds: layers point down (import-linter), and no import circles anywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kiosk", "lobby", "mqtt_bridge", "drivers")


def test_the_layers_contract_holds() -> None:
    """kiosk > lobby > mqtt_bridge > drivers, with the one named exception in pyproject.toml."""
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Contracts: 1 kept, 0 broken" in run.stdout


def _import_circles() -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), function-local imports included."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(root: str) -> None:
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    circles.append(sorted(group))

    for module in edges:
        if module not in index:
            visit(module)
    return circles


def test_no_module_imports_itself_through_others() -> None:
    assert _import_circles() == []


def test_drivers_import_nothing_of_the_product() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    for upper in ("kiosk", "lobby", "mqtt_bridge"):
        assert not graph.chain_exists(importer="drivers", imported=upper, as_packages=True), upper


MAX_CLASS_LINES = 310  # "no class past ~300 lines": split by job (a mixin per concern, a helper class) past it
PRODUCT_PACKAGES = ("kiosk", "lobby", "mqtt_bridge", "drivers")


def test_no_class_is_past_about_300_lines() -> None:
    import ast

    too_big: list[str] = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_CLASS_LINES:
                        too_big.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not too_big, "split these by job:\n" + "\n".join(too_big)
