"""Logging to stderr for journald, with levels, and a last guard against phone numbers.

Personal data must never reach a log line; code logs ids and counts, not names or
phones. The filter below masks anything shaped like a phone number as a second
line of defence, because a log leaves the building in support bundles.
"""

from __future__ import annotations

import logging
import os
import re
import sys

# Mainland mobiles (1[3-9] + 9 digits) and international numbers written with '+'.
_PHONE = re.compile(r"(?<![\d.])(?:1[3-9]\d{9}|\+\d[\d ]{6,17}\d)(?![\d.])")
_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class PhoneMaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE.sub("<phone>", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class _JournalFormatter(logging.Formatter):
    """journald reads `<N>` priority prefixes and adds its own timestamps."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners and embedders swap it)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def setup_logging(level: str = "INFO") -> None:
    handler = _StderrHandler()
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(PhoneMaskFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pymodbus", "kivy", "PIL", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
