"""Retention (PIPL): delete personal data when it is no longer needed, keep anonymous statistics.

`purge(now)` is safe to run at any time and idempotent:

- visits checked in more than privacy.visitor_retention_days ago: name, phone,
  company, work permit number, double-submission hash, the host person's name
  and the host's free-text reply are set to NULL, the pass's card hash too;
  the row stays (day, host unit/company, purpose, party size, times, pass
  number) for anonymous statistics;
- invitations whose validity ended that long ago: name, phone, company,
  permit number and QR token; the copy of visitor.invite / visitor.host_ack
  command data kept in the commands table is dropped after the same period;
- tickets created more than privacy.ticket_contact_retention_days ago: the
  contact name and phone (the case itself stays);
- events not yet sent to central (outbox) that still name a purged visit or
  ticket lose the personal fields (marked "redacted": true);
- CSV exports (`lobby export`) in privacy.export_dir for days older than the
  shorter of the visitor and ticket-contact retention are deleted: they are
  copies of the same personal data (exports written elsewhere with --out are
  the operator's to keep or destroy);
- after privacy.stats_retention_days everything of that age goes: visits,
  passes, invitations, roll calls, tickets with their updates and clocks,
  feedback presses and satisfaction periods.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import asdict, dataclass

from lobby.config import state_path
from mqtt_bridge.commands.intake import purge_log
from mqtt_bridge.store import Transaction
from mqtt_bridge.store.shapes import padded_in_chunks as _chunks  # IN lists in a few statement shapes
from mqtt_bridge.timebase import rfc3339

from mqtt_bridge.clock import Instant
from lobby.services.context import ServiceContext

log = logging.getLogger(__name__)

EXPORT_FILE = re.compile(r"(visitors|tickets|feedback)-(\d{4}-\d{2}-\d{2})\.csv")


@dataclass
class PurgeReport:
    visits_anonymised: int = 0
    invitations_anonymised: int = 0
    tickets_anonymised: int = 0
    commands_scrubbed: int = 0
    events_redacted: int = 0
    visits_deleted: int = 0
    invitations_deleted: int = 0
    roll_calls_deleted: int = 0
    tickets_deleted: int = 0
    feedback_deleted: int = 0
    periods_deleted: int = 0
    exports_deleted: int = 0
    commands_deleted: int = 0  # the command log goes with the personal data (issue #13)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


def _ids(tx: Transaction, sql: str, params: tuple[object, ...]) -> list[str]:
    return [r[0] for r in tx.execute(sql, params).fetchall()]


class PrivacyService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def cutoffs(self, now: Instant) -> dict[str, str]:
        p = self.ctx.cfg.privacy
        return {"visitor": rfc3339(now.wall - dt.timedelta(days=p.visitor_retention_days)),
                "ticket": rfc3339(now.wall - dt.timedelta(days=p.ticket_contact_retention_days)),
                "stats": rfc3339(now.wall - dt.timedelta(days=p.stats_retention_days)),
                "stats_day": (now.local(self.ctx.tz).date() - dt.timedelta(days=p.stats_retention_days)).isoformat()}

    def purge(self, now: Instant | None = None) -> PurgeReport:
        now = self.ctx.now(now)
        cut = self.cutoffs(now)
        report = PurgeReport()
        with self.ctx.store.transaction() as tx:
            self._visits(tx, cut["visitor"], now, report)
            self._invitations(tx, cut["visitor"], now, report)
            self._tickets(tx, cut["ticket"], now, report)
            self._statistics(tx, cut["stats"], cut["stats_day"], report)
            report.commands_deleted += purge_log(tx, cut["visitor"])
        self._exports(now, report)
        log.info("privacy purge: %s", {k: v for k, v in report.as_dict().items() if v})
        return report

    # -------------------------------------------------------------- personal fields

    def _visits(self, tx: Transaction, cutoff: str, now: Instant, report: PurgeReport) -> None:
        ids = _ids(tx, "SELECT id FROM visits WHERE checked_in_ts < ? AND anonymised_ts IS NULL", (cutoff,))
        for marks, chunk in _chunks(ids):
            tx.execute(f"UPDATE visits SET name = NULL, phone = NULL, company = NULL, permit_no = NULL, "
                       f"dedupe_key = NULL, host_person = NULL, host_ack_message = NULL, anonymised_ts = ? "
                       f"WHERE id IN ({marks})", (now.ts, *chunk))
            tx.execute(f"UPDATE visitor_passes SET card_hash = NULL WHERE visit_id IN ({marks})", chunk)
            report.events_redacted += tx.execute(
                f"UPDATE outbox SET data = json_set(json_remove(data, '$.visitor_name', '$.phone', '$.phone_masked'), "
                f"'$.host.person', '', '$.redacted', json('true')) WHERE kind = 'visitor' AND type = 'visitor.checked_in' "
                f"AND json_extract(data, '$.visit_id') IN ({marks}) AND json_extract(data, '$.redacted') IS NULL",
                chunk).rowcount
        report.visits_anonymised += len(ids)
        report.commands_scrubbed += tx.execute(
            "UPDATE commands SET data = NULL WHERE name IN ('visitor.invite', 'visitor.host_ack') AND data IS NOT NULL "
            "AND received_ts < ?", (cutoff,)).rowcount

    def _invitations(self, tx: Transaction, cutoff: str, now: Instant, report: PurgeReport) -> None:
        ids = _ids(tx, "SELECT id FROM invitations WHERE valid_until < ? AND anonymised_ts IS NULL", (cutoff,))
        for marks, chunk in _chunks(ids):
            tx.execute(f"UPDATE invitations SET name = NULL, phone = NULL, company = NULL, permit_no = NULL, "
                       f"qr_token = NULL, state = CASE WHEN state = 'open' THEN 'expired' ELSE state END, "
                       f"anonymised_ts = ? WHERE id IN ({marks})", (now.ts, *chunk))
            report.commands_scrubbed += tx.execute(
                f"UPDATE commands SET data = NULL WHERE data IS NOT NULL AND id IN "
                f"(SELECT command_id FROM invitations WHERE id IN ({marks}))", chunk).rowcount
        report.invitations_anonymised += len(ids)

    def _tickets(self, tx: Transaction, cutoff: str, now: Instant, report: PurgeReport) -> None:
        ids = _ids(tx, "SELECT ticket_no FROM tickets WHERE created_ts < ? AND anonymised_ts IS NULL", (cutoff,))
        for marks, chunk in _chunks(ids):
            tx.execute(f"UPDATE tickets SET contact_name = NULL, contact_phone = NULL, anonymised_ts = ? "
                       f"WHERE ticket_no IN ({marks})", (now.ts, *chunk))
            report.events_redacted += tx.execute(
                f"UPDATE outbox SET data = json_set(json_remove(data, '$.contact'), '$.redacted', json('true')) "
                f"WHERE kind = 'ticket' AND type = 'ticket.created' AND json_extract(data, '$.ticket_no') IN ({marks}) "
                f"AND json_extract(data, '$.contact') IS NOT NULL", chunk).rowcount
        report.tickets_anonymised += len(ids)

    def _exports(self, now: Instant, report: PurgeReport) -> None:
        p = self.ctx.cfg.privacy
        keep_days = min(p.visitor_retention_days, p.ticket_contact_retention_days)
        oldest_kept = now.local(self.ctx.tz).date() - dt.timedelta(days=keep_days)
        folder = state_path(self.ctx.cfg, p.export_dir)
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            match = EXPORT_FILE.fullmatch(path.name)
            if match is None or not path.is_file():
                continue
            try:
                day = dt.date.fromisoformat(match.group(2))
            except ValueError:
                continue
            if day < oldest_kept:
                try:
                    path.unlink()
                except OSError as exc:  # the next purge tries again
                    log.warning("privacy purge: cannot delete an old export: %s", exc.strerror)
                    continue
                report.exports_deleted += 1

    # -------------------------------------------------------------- statistics past their retention

    def _statistics(self, tx: Transaction, cutoff: str, cutoff_day: str, report: PurgeReport) -> None:
        old_rolls = _ids(tx, "SELECT id FROM roll_calls WHERE started_ts < ? AND state = 'closed'", (cutoff,))
        for marks, chunk in _chunks(old_rolls):
            tx.execute(f"DELETE FROM roll_call_entries WHERE roll_call_id IN ({marks})", chunk)
            report.roll_calls_deleted += tx.execute(f"DELETE FROM roll_calls WHERE id IN ({marks})", chunk).rowcount
        visits = _ids(tx, "SELECT id FROM visits WHERE checked_in_ts < ?", (cutoff,))
        for marks, chunk in _chunks(visits):
            tx.execute(f"DELETE FROM roll_call_entries WHERE visit_id IN ({marks})", chunk)
            tx.execute(f"DELETE FROM visitor_passes WHERE visit_id IN ({marks})", chunk)
            report.visits_deleted += tx.execute(f"DELETE FROM visits WHERE id IN ({marks})", chunk).rowcount
        report.invitations_deleted += tx.execute("DELETE FROM invitations WHERE valid_until < ?", (cutoff,)).rowcount
        tickets = _ids(tx, "SELECT ticket_no FROM tickets WHERE created_ts < ?", (cutoff,))
        for marks, chunk in _chunks(tickets):
            tx.execute(f"DELETE FROM ticket_updates WHERE ticket_no IN ({marks})", chunk)
            tx.execute(f"DELETE FROM sla_clocks WHERE ticket_no IN ({marks})", chunk)
            report.tickets_deleted += tx.execute(f"DELETE FROM tickets WHERE ticket_no IN ({marks})", chunk).rowcount
        report.feedback_deleted += tx.execute("DELETE FROM feedback WHERE site_day < ?", (cutoff_day,)).rowcount
        report.periods_deleted += tx.execute(
            "DELETE FROM satisfaction_periods WHERE (period = 'day' AND start < ?) OR (period = 'month' AND start < ?)",
            (cutoff_day, cutoff_day[:7])).rowcount
