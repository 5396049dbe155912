"""docs/RULES.md names real tests, and the product's docs never point outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_named_in_the_rules_table_exists() -> None:
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")))
    defined = {m for path in (ROOT / "tests").rglob("test_*.py")
               for m in re.findall(r"^def (test_[a-z0-9_]+)", path.read_text(encoding="utf-8"), re.M)}
    assert named and named <= defined, sorted(named - defined)


def test_the_docs_never_link_outside_the_repository() -> None:
    for path in [ROOT / "README.md", ROOT / "hardware.md", *(ROOT / "docs").glob("*.md")]:
        assert "../shared" not in path.read_text(encoding="utf-8"), path.name
