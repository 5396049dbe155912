"""`lobby doctor`: is this Pi ready to run the lobby, and if not, what to do about it.

Each module here holds one small check. A check gets a :class:`Context` and returns
one or more :class:`Result` lines, each a plain-words sentence for the installer or
the facility staff, with the fix when something is wrong. The runner
(:mod:`.runner`) runs the checks side by side, each on its own daemon thread with
its own time limit, so the whole run stays under about 15 s even when every device
and the broker are gone.

Statuses: ``ok``; ``warn`` (works, but look at it); ``fail`` (the lobby will not work
as configured); ``skip`` (not configured here, or in use by a running service).
`lobby doctor` exits 0 only when nothing failed.
"""

from __future__ import annotations

from lobby.doctor.base import Check, Context, Result, Status
from lobby.doctor.runner import CHECKS, run_checks

__all__ = ["CHECKS", "Check", "Context", "Result", "Status", "run_checks"]
