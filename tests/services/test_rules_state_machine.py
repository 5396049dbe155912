"""Hypothesis drives the lobby with random kiosk tickets, button presses, central commands and clock
moves (time passing, wall-clock steps, NTP syncs, reboots) and checks every invariant after every step.

The test keeps its own true time beside the Pi's ManualClock, which may be stepped, unsynced and
rebooted (after a reboot the wall clock restarts from a saved time that lags the truth). Invariants:

- every ticket is in a known state and every recorded move is an allowed one;
- a closed repair or valid complaint has a recorded return visit or central's exemption;
- an accepted reply to an unsettled, valid complaint agreed the next reply time;
- a refused command changes nothing and names the rule that refused it;
- no overdue alert fires before its true deadline (nor any level before deadline + its interval),
  levels climb one at a time, and an alert is active exactly while its clock runs overdue;
- a clock anchored on true time has the true due time; one re-anchored after a reboot is never early;
- every event validates against the contract (checked at teardown by the store fixture's helper).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lobby.commands import CommandContext, lobby_specs
from lobby.config import parse_config
from lobby.config.model import ButtonConfig
from lobby.gateway.buttons import ButtonService, _Panel
from lobby.services import LobbyServices, TicketForm
from lobby.services.escalation import TOP_LEVEL
from lobby.services.sla import SHAPES
from lobby.services.ticket_rules import RULES, SETTLED, STATES, TRANSITIONS, return_visit_owed
from mqtt_bridge.alerts import AlertEngine, alert_key
from mqtt_bridge.clock import ManualClock
from mqtt_bridge.commands import CommandIntake
from mqtt_bridge.store import Store
from mqtt_bridge.timebase import parse_rfc3339, rfc3339
from tests.services.services_helpers import CARD_KEY, SHANGHAI, base_config, command, invalid_events

START = dt.datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI)  # a Friday afternoon
BUTTONS = [ButtonConfig(id="btn-toilet", pin=17, place="卫生间 Toilet", meaning="需要清洁", ticket_kind="repair",
                        category="cleaning"),
           ButtonConfig(id="btn-help", pin=18, place="大堂 Lobby", meaning="投诉", ticket_kind="complaint",
                        category="other")]
FORMS = [TicketForm(kind="complaint", category="noise", description="夜间噪音", contact_phone="13700001234"),
         TicketForm(kind="complaint", category="cleaning", description="电梯厅有垃圾"),
         TicketForm(kind="repair", category="engineering", description="B1 水管爆裂", floor="B1", urgent=True),
         TicketForm(kind="repair", category="cleaning", description="地毯污渍", area="大堂 Lobby",
                    contact_phone="13700001234"),
         TicketForm(kind="enquiry", category="parking", description="月卡怎么办理")]
WATCHED = ("tickets", "ticket_updates", "sla_clocks")
KNOWN_ERRORS = ("refused by rule ", "there is no ticket")


def _digest(store: Store) -> str:
    rows = {t: store.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in WATCHED}  # noqa: S608 - fixed names
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


class LobbyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="rules-sm-"))
        self.store = Store(self.dir / "lobby.db")
        cfg = parse_config(base_config(self.dir / "state"), "test.toml")
        self.cfg = cfg.model_copy(update={"buttons": BUTTONS})
        self.clock = ManualClock(START)
        self.true = START
        self.services = LobbyServices(self.store, self.cfg, card_key=CARD_KEY, clock=self.clock)
        alerts = self.services.ctx.alerts
        self.intake = CommandIntake(self.store, lobby_specs(CommandContext(self.cfg, None, alerts, CARD_KEY),
                                                            self.clock), 65536)
        self.buttons = ButtonService(self.cfg, self.store, alerts, self.services, None)
        self.numbers: list[str] = []
        self.starts: dict[tuple[str, str, str, int], dt.datetime] = {}  # clock identity -> true start
        self.levels: dict[tuple[str, str], int] = {}
        self.interval_s = self.cfg.service.escalation_interval_min * 60

    def teardown(self) -> None:
        problems = invalid_events(self.store)
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        assert problems == [], problems[:5]

    # ------------------------------------------------------------------ actions

    @initialize()
    def first_ticket(self) -> None:
        self.numbers.append(self.services.tickets.create(FORMS[0]).value.ticket_no)
        self._note_starts()

    @rule(form=st.sampled_from(FORMS))
    def kiosk_ticket(self, form: TicketForm) -> None:
        outcome = self.services.tickets.create(form)
        assert outcome.ok
        self.numbers.append(outcome.value.ticket_no)
        self._note_starts()

    @rule(which=st.integers(0, len(BUTTONS) - 1))
    def button_press(self, which: int) -> None:
        number = self.buttons._ticket(_Panel(BUTTONS[which], None, None))  # the real press path, no GPIO
        if number not in self.numbers:
            self.numbers.append(number)
        self._note_starts()

    @precondition(lambda self: self.numbers)
    @rule(pick=st.integers(0, 10**6), status=st.sampled_from([None, *STATES]), reply=st.booleans(),
          next_in_min=st.sampled_from([None, 30, 240, 1500]), valid=st.sampled_from([None, True, False]),
          exempt=st.sampled_from([None, None, "anonymous", "tenant_refused"]))
    def central_update(self, pick: int, status: str | None, reply: bool, next_in_min: int | None,
                       valid: bool | None, exempt: str | None) -> None:
        number = self.numbers[pick % len(self.numbers)]
        data: dict[str, Any] = {"ticket_no": number}
        if status is not None:
            data["status"] = status
        if reply:
            data["reply"] = "已处理，谢谢。"
        if next_in_min is not None:  # central agrees it with the tenant in true time
            data["next_reply_by"] = rfc3339(self.true + dt.timedelta(minutes=next_in_min))
        if valid is not None:
            data["valid"] = valid
        if exempt is not None:
            data["return_visit_exempt"] = exempt
        if not {"status", "reply", "valid", "return_visit_exempt"} & set(data):
            data["status"] = "assigned" if status is None else status
        before = self.store.query("SELECT * FROM tickets WHERE ticket_no = ?", (number,))[0]
        digest = _digest(self.store)
        result = command(self.intake, "ticket.update", data)
        if not result["ok"]:
            assert _digest(self.store) == digest, "a refused command changed the store"
            error = result["error"]
            assert any(k in error for k in KNOWN_ERRORS) or error.startswith("invalid data"), error
            if "refused by rule " in error:
                rule_id = error.split("refused by rule ")[1].split(":")[0]
                assert rule_id in RULES
                event(f"refused by {rule_id}")
            assert "13700001234" not in error
            return
        target = data.get("status", before["status"])
        judged = valid if valid is not None else (None if before["complaint_valid"] is None
                                                  else bool(before["complaint_valid"]))
        if before["kind"] == "complaint" and reply and target not in SETTLED and judged is not False:
            assert next_in_min is not None, "a reply to an unsettled complaint was accepted without a next reply"
        self._note_starts()

    @rule(minutes=st.sampled_from([1, 5, 14, 16, 29, 31, 59, 61, 119, 121, 180, 600, 1440, 2880]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        self.true += dt.timedelta(minutes=minutes)

    @rule(hours=st.sampled_from([-72, -3, -1, 1, 3, 72]))
    def wall_clock_steps(self, hours: int) -> None:
        """A wrong manual setting or a bad time source: the wall clock jumps and is not trusted."""
        self.clock.jump_wall(hours=hours)
        self.clock.set_synced(False)

    @rule()
    def ntp_syncs(self) -> None:
        self.clock.set_wall(self.true)
        self.clock.set_synced(True)

    @rule(down_min=st.sampled_from([1, 10, 90]), lag_min=st.sampled_from([0, 30, 240]))
    def reboot(self, down_min: int, lag_min: int) -> None:
        """The Pi restarts: a new monotonic clock, and the wall clock restored from a save that lags."""
        self.true += dt.timedelta(minutes=down_min)
        self.clock.reboot(downtime_s=down_min * 60, synced=False)
        self.clock.set_wall(self.true - dt.timedelta(minutes=lag_min))

    @rule()
    def minute_timer(self) -> None:
        report = self.services.every_minute()["sla"]
        assert len(report.raised) == len(set(report.raised))
        for name, happened in (("raised", report.raised), ("escalated", report.escalated),
                               ("re-anchored", report.corrected)):
            if happened:
                event(f"alerts {name}")
        self._check_alert_timing()

    # ------------------------------------------------------------------ bookkeeping

    def _note_starts(self) -> None:
        """Remember the true time at which each clock (re)started: actions take no time."""
        for c in self.store.query("SELECT ticket_no, clock, boot_id, mono_ns FROM sla_clocks"):
            self.starts.setdefault((c["ticket_no"], c["clock"], c["boot_id"], c["mono_ns"]), self.true)

    def _true_due(self, c: dict[str, Any]) -> dt.datetime:
        start = self.starts[(c["ticket_no"], c["clock"], c["boot_id"], c["mono_ns"])]
        if SHAPES[c["clock"]] == "absolute":
            return parse_rfc3339(c["due_ts"])
        ticket = self.store.query("SELECT * FROM tickets WHERE ticket_no = ?", (c["ticket_no"],))[0]
        plan = self.services.tickets.sla.deadline(c["clock"], ticket, start.astimezone(SHANGHAI), True)
        return start + dt.timedelta(seconds=plan.seconds)

    def _check_alert_timing(self) -> None:
        for c in self.store.query("SELECT * FROM sla_clocks"):
            key = (c["ticket_no"], c["clock"])
            previous = self.levels.get(key, 0)
            if c["state"] == "running" and c["level"] > previous:
                assert c["level"] == previous + 1, f"{key} jumped from level {previous} to {c['level']}"
                due = self._true_due(c) + dt.timedelta(seconds=(c["level"] - 1) * self.interval_s)
                assert self.true >= due - dt.timedelta(milliseconds=5), \
                    f"{key} level {c['level']} fired at {self.true}, before its true deadline {due}"
            self.levels[key] = c["level"] if c["state"] == "running" else 0

    # ------------------------------------------------------------------ invariants

    @invariant()
    def states_and_moves_are_allowed(self) -> None:
        for t in self.store.query("SELECT status FROM tickets"):
            assert t["status"] in STATES
        for u in self.store.query("SELECT status_from, status_to FROM ticket_updates"):
            assert u["status_to"] == u["status_from"] or u["status_to"] in TRANSITIONS[u["status_from"]], u

    @invariant()
    def no_closed_ticket_skipped_its_return_visit(self) -> None:
        for t in self.store.query("SELECT * FROM tickets WHERE status = 'closed'"):
            valid = None if t["complaint_valid"] is None else bool(t["complaint_valid"])
            if return_visit_owed(t["kind"], valid):
                assert t["return_visit_ts"] is not None or t["return_visit_exempt"] is not None, t["ticket_no"]

    @invariant()
    def alerts_match_their_clocks(self) -> None:
        engine = AlertEngine(self.store)
        for c in self.store.query("SELECT * FROM sla_clocks"):
            alert = engine.get(alert_key("ticket.overdue", c["ticket_no"], c["clock"]))
            active = alert is not None and alert["state"] == "active"
            assert 0 <= c["level"] <= TOP_LEVEL
            assert active == (c["state"] == "running" and c["level"] > 0), (c["ticket_no"], c["clock"], c["level"])
            if active:
                assert json.loads(alert["detail"])["level"] == c["level"]

    @invariant()
    def anchored_due_times_are_true(self) -> None:
        for c in self.store.query("SELECT * FROM sla_clocks WHERE state = 'running' AND anchored > 0"):
            if (c["ticket_no"], c["clock"], c["boot_id"], c["mono_ns"]) not in self.starts:
                continue
            due, true_due = parse_rfc3339(c["due_ts"]), self._true_due(c)
            slack = dt.timedelta(milliseconds=5)
            if c["anchored"] == 1:
                assert abs(due - true_due) <= slack, (c["ticket_no"], c["clock"], due, true_due)
            else:
                assert due >= true_due - slack, (c["ticket_no"], c["clock"], due, true_due)


TestLobbyRules = LobbyMachine.TestCase
TestLobbyRules.settings = settings(max_examples=100, stateful_step_count=50, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
