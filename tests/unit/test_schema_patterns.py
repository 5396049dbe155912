"""JSON Schema patterns are read as ECMA-262 reads them (mqtt_bridge/schemas/patterns.py).

Where Python's dialect and ECMA-262's agree (ASCII text with no line break), the
translation changes nothing; where they differ, it takes ECMA-262's side: `$` is the
end of the text, `\\d` is 0-9, `\\s` is ECMA-262's whitespace.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqtt_bridge import schemas
from mqtt_bridge.schemas.patterns import matches, translate

SCHEMA_DIR = Path(schemas.__file__).parent
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _shipped_patterns() -> list[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in SCHEMA_DIR.rglob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return sorted(found)


SHIPPED = _shipped_patterns()


def test_every_shipped_pattern_translates() -> None:
    assert len(SHIPPED) > 20
    for pattern in SHIPPED:
        translate(pattern)


@pytest.mark.parametrize("pattern", SHIPPED)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_shipped_pattern_means_the_same_on_plain_text_and_refuses_what_python_let_through(
        pattern: str, data: st.DataObject) -> None:
    text = data.draw(st.from_regex(pattern).filter(lambda t: t.isascii() and "\n" not in t)
                     | st.text(alphabet="0123456789abcdefABCDEF-:T.Z+_ ", max_size=30))
    assert matches(pattern, text) == (re.search(pattern, text) is not None)
    if pattern.endswith("$") and matches(pattern, text):
        assert not matches(pattern, text + "\n")
    if matches(pattern, text) and any(c.isdigit() for c in text):
        assert not matches(pattern, text.translate(ARABIC_INDIC))


@pytest.mark.parametrize("pattern, text, expected", [
    ("^[0-9A-Fa-f]{8}$", "04A1B2C3", True),
    ("^[0-9A-Fa-f]{8}$", "04A1B2C3\n", False),
    ("^\\d{8}$", "12345678", True),
    ("^\\d{8}$", "١٢٣٤٥٦٧٨", False),
    ("^\\w+$", "día", False),  # ECMA-262's \w is ASCII
    ("^\\s$", "\u3000", True),  # ECMA-262's \s is Unicode whitespace
    ("^\\s$", "\u0085", False),  # Python's is wider
    ("^\\S+$", "a\u00a0b", False),
    ("^[$a]+$", "$a$", True),  # $ in a class is a dollar
    ("^a\\$$", "a$", True),
    ("a$|^b", "xa", True),
    ("a$", "a\n", False),
])
def test_ecma_262_reading(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


@pytest.mark.parametrize("pattern", ["[]", "a[^]b", "[\\S]", "abc\\"])
def test_what_reads_differently_and_cannot_be_translated_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        translate(pattern)
