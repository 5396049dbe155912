"""What the demo's console shows: central's traffic and real problems, once each.

The children log at WARNING (no library chatter). Each line passes `Console.keep`:
- libraries' own lines below ERROR go (kivy, paho ...: start-up chatter);
- the time stamp of a log line goes (the console is read live; the supervisor prefixes the process);
- a "command ... rejected" warning from the gateway goes: central's `cmd/<name>/result ERROR` line,
  one line further, already says it (the scripted day's deliberately malformed command among them);
- a WARNING or ERROR line seen before is not shown again; the demo says how many at the end.
"""

from __future__ import annotations

import re

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+)\s+(?P<logger>[\w.]+): (?P<text>.*)$")
CHATTY = ("kivy", "paho", "urllib3", "PIL", "asyncio", "pymodbus")
SAID_BY_CENTRAL = re.compile(r"^command \S+ rejected: ")


class Console:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.repeats = 0

    def keep(self, line: str) -> str | None:
        """The line to show, or None."""
        match = LOG_LINE.match(line)
        if match is None:
            return line
        level, logger, text = match["level"], match["logger"], match["text"]
        if logger.split(".")[0] in CHATTY and level in ("DEBUG", "INFO", "WARNING"):  # their errors show
            return None
        if logger == "mqtt_bridge.commands.intake" and SAID_BY_CENTRAL.match(text):
            return None
        shown = f"{level} {logger}: {text}"
        if level in ("WARNING", "ERROR", "CRITICAL"):
            if shown in self.seen:
                self.repeats += 1
                return None
            self.seen.add(shown)
        return shown
