"""JSON Schema's `pattern` as the standard reads it (ECMA-262), not as Python's `re` does.

Two differences let a command through that the schema meant to refuse:

- Python's `$` also matches before a final newline: `^[0-9A-Fa-f]{8}$` took the card
  UID "04A1B2C3\\n", stored as a card no tap can ever match;
- Python's `\\d` and `\\w` match every script's digits and letters: `^\\d{8}$` took an
  invitation code in Arabic-Indic digits that no visitor can type.

So a pattern is compiled with `re.ASCII` (`\\d` is 0-9, `\\w` and `\\b` are ASCII, as in
ECMA-262), `$` outside a character class becomes `\\Z` (the end of the text only), and
`\\s`/`\\S` become ECMA-262's whitespace set (which is not ASCII). Both the command
checker and jsonschema (`schemas.validator`) use it, so they still agree.
"""

from __future__ import annotations

import functools
import re

# ECMA-262 WhiteSpace and LineTerminator code points
_WHITESPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"


def translate(pattern: str) -> str:
    """Python source for the pattern, meaning what ECMA-262 means by it. ValueError if it cannot."""
    out: list[str] = []
    in_class = False
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise ValueError("the pattern ends in a lone backslash")
            if escaped == "s":
                out.append(_WHITESPACE if in_class else f"[{_WHITESPACE}]")
            elif escaped == "S":
                if in_class:
                    raise ValueError("\\S inside a character class")
                out.append(f"[^{_WHITESPACE}]")
            else:
                out.append("\\" + escaped)
        elif in_class:
            if char == "]" and (out[-1:] == ["["] or out[-2:] == ["[", "^"]):
                raise ValueError("[] and [^] mean something else in ECMA-262")
            out.append(char)
            in_class = char != "]"
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "$":
            out.append("\\Z")
        else:
            out.append(char)
    return "".join(out)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled pattern (cached); re.error or ValueError if it is not one."""
    return re.compile(translate(pattern), re.ASCII)


def matches(pattern: str, text: str) -> bool:
    """Does `text` satisfy the JSON Schema `pattern` (a search, unanchored unless the pattern anchors)?"""
    return compile_pattern(pattern).search(text) is not None
