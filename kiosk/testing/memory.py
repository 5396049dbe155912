"""The process's resident memory, for the test probe and the soak flows."""

from __future__ import annotations

from pathlib import Path


def rss_kb() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
