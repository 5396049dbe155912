"""Identifier checks take no trailing newline and no other script's digits.

Python's `$` also matches before a final newline and its `\\d` matches every script's
digits: `^[A-Za-z0-9_.:-]{1,64}$` took the command id "c1\\n" and `^\\d{8}...` took
"١٢٣٤٥٦٧٨". Every module-level `NAME = re.compile("^...$")` in the product is found in
the source (a new one is checked without being listed here) and held, for strings it
accepts, to refusing the same string with a newline after it and with its digits in
Arabic-Indic. The exceptions parse one line of a text already split into lines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lobby", "mqtt_bridge", "drivers", "kiosk")
LINE_PARSERS = {("lobby/config/reference.py", "_HEADER"), ("lobby/config/reference.py", "_KEY_LINE"),
                ("lobby/config/reference.py", "_CONTINUED"), ("lobby/config/locate.py", "_HEADER"),
                ("lobby/demo/console.py", "LOG_LINE")}
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _anchored_patterns() -> list[tuple[str, str, re.Pattern[str]]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)):
                    continue
                call = node.value
                if not (isinstance(call.func, ast.Attribute) and call.func.attr == "compile" and call.args
                        and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
                    continue
                source, name = call.args[0].value, node.targets[0].id
                where = str(path.relative_to(ROOT))
                whole = source.startswith("^") and source.endswith(("$", "\\Z"))  # a check, not a prefix parser
                if whole and (where, name) not in LINE_PARSERS:
                    flags = re.ASCII if any(isinstance(a, ast.Attribute) and a.attr == "ASCII" for a in call.args[1:]) else 0
                    found.append((where, name, re.compile(source, flags)))
    return found


PATTERNS = _anchored_patterns()


def test_the_identifier_checks_are_found() -> None:
    names = {f"{where}:{name}" for where, name, _ in PATTERNS}
    assert {"mqtt_bridge/commands/intake.py:_ID", "lobby/services/pin.py:PIN_RE", "lobby/config/model.py:_UID_RE",
            "lobby/patrol/wand.py:_TIME_RE"} <= names
    assert len(PATTERNS) >= 15


@pytest.mark.parametrize("where, name, pattern", PATTERNS, ids=[f"{w}:{n}" for w, n, _ in PATTERNS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_an_accepted_identifier_with_a_newline_or_other_digits_is_refused(
        where: str, name: str, pattern: re.Pattern[str], data: st.DataObject) -> None:
    text = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda t: "\n" not in t and t.isascii()))
    assert pattern.match(text)
    assert pattern.match(text + "\n") is None
    if any(c.isdigit() for c in text):
        assert pattern.match(text.translate(ARABIC_INDIC)) is None
