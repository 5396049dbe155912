"""Running the checks side by side, each on a daemon thread with its own time limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from lobby.config import Config
from lobby.doctor import (
    backups_check,
    broker_check,
    calendar_check,
    clock_check,
    disk_check,
    fonts_check,
    gpio_check,
    nfc_check,
    printer_check,
    serial_check,
    started_check,
    store_check,
)
from lobby.doctor.base import Check, Context, Result, Status, fail

# In the order the lines are printed.
CHECKS = (store_check, disk_check, serial_check, nfc_check, gpio_check, printer_check, broker_check,
          clock_check, calendar_check, fonts_check, backups_check, started_check)
TOTAL_BUDGET_S = 14.0


def module_name(module: object) -> str:
    """store_check -> store: the name a module's checks start with."""
    return getattr(module, "__name__", "").rsplit(".", 1)[-1].removesuffix("_check")


def plan(cfg: Config, only: Sequence[str] = (), skip_modules: set[str] = frozenset()) -> list[Check]:
    """The checks to run. A module marked OPT_IN (started) runs only when `only` names it."""
    aliases = {"meter": "serial", "meters": "serial", "reader": "nfc", "readers": "nfc", "mqtt": "broker"}
    wanted = [aliases.get(w.strip().lower(), w.strip().lower()) for w in only if w.strip()]
    named = {w.split(" ")[0] for w in wanted}
    found = [check for module in CHECKS if module_name(module) not in skip_modules
             and (not getattr(module, "OPT_IN", False) or module_name(module) in named)
             for check in module.checks(cfg)]
    if only:
        found = [c for c in found if any(c.name == w or c.name.startswith(w + " ") or c.name.split(" ")[0] == w
                                         for w in wanted)]
    return found


class _Job:
    def __init__(self, check: Check, ctx: Context) -> None:
        self.check = check
        self.ctx = ctx
        self.results: list[Result] | None = None
        self.started = 0.0
        self.thread = threading.Thread(target=self._run, name=f"doctor-{check.name}", daemon=True)

    def _run(self) -> None:
        try:
            results = self.check.run(self.ctx)
        except Exception as exc:  # a check must never take the whole doctor down
            results = [fail(self.check.name, f"The {self.check.name} check itself failed: {type(exc).__name__}: {exc}.",
                            "Please report this with the output of `lobby doctor --json`.")]
        took = time.monotonic() - self.started
        for result in results:
            result.seconds = took
        self.results = results

    def start(self) -> None:
        self.started = time.monotonic()
        self.thread.start()


def run_checks(ctx: Context, only: Sequence[str] = (), budget_s: float = TOTAL_BUDGET_S,
               skip_modules: set[str] = frozenset()) -> list[Result]:
    """Run every planned check at once; return their lines in plan order."""
    jobs = [_Job(check, ctx) for check in plan(ctx.cfg, only, skip_modules)]
    begin = time.monotonic()
    for job in jobs:
        job.start()
    for job in jobs:
        deadline = min(job.started + job.check.timeout_s, begin + budget_s)
        job.thread.join(max(0.0, deadline - time.monotonic()))
    out: list[Result] = []
    for job in jobs:
        if job.results is None:  # still running: it hangs; the daemon thread is left behind
            limit = min(job.check.timeout_s, budget_s)
            out.append(Result(job.check.name, Status.FAIL,
                              job.check.timeout_message or f"The {job.check.name} check did not finish within "
                                                           f"{limit:.0f} s.",
                              job.check.timeout_fix, seconds=time.monotonic() - job.started))
        else:
            out.extend(job.results)
    return out
