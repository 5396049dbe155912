"""Feedback faces (touchscreen and GPIO buttons), misuse flags and satisfaction.

Four faces, no neutral one; after an unhappy face the screen may offer a reason
from feedback.unhappy_reasons (optional, added with add_reason). The thank-you
is the same whatever the face: nobody is nudged toward a good rating.

Misuse is flagged, never dropped. Within feedback.misuse_window_s at the same
place from the same source (measured on the monotonic clock, so a clock step
cannot create or hide a burst), every press in the window is flagged when
- the same face is pressed more than feedback.misuse_max_presses times
  ("repeated_presses": the same button hammered),
- more than misuse_max_presses presses of any faces come in ("burst"), or
- the face changes misuse_max_changes times or more ("alternation": a child
  going back and forth between two faces).
Flagged presses keep their row and event, are marked with the reason, and are
left out of the scores when feedback.exclude_flagged is true.

Satisfaction here = (happy + very_happy) / counted presses of the lobby's faces,
per site-local day and month, computed in the store and published once per
finished period (`publish_periods`, idempotent: one event per period, guarded by
the satisfaction_periods primary key). It is a continuous signal, not the
satisfaction survey: survey results come from central and are kept apart
(surveys.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from mqtt_bridge.store import StoreError, Transaction
from mqtt_bridge.store.ids import uuid7

from mqtt_bridge.clock import Instant
from lobby.services.context import ServiceContext, row, rows, store_failure
from lobby.services.messages import Message, Outcome, ValidationFailed
from lobby.services.text import Label, clean_company

log = logging.getLogger(__name__)

FACES: dict[str, tuple[str, str]] = {
    "very_unhappy": ("非常不满意", "Very unhappy"),
    "unhappy": ("不满意", "Unhappy"),
    "happy": ("满意", "Happy"),
    "very_happy": ("非常满意", "Very happy"),
}
UNHAPPY = ("very_unhappy", "unhappy")
SATISFIED = ("happy", "very_happy")
REASON_LABELS: dict[str, tuple[str, str]] = {
    "waiting": ("等候时间长", "Waiting time"), "attitude": ("服务态度", "Staff attitude"),
    "cleanliness": ("环境卫生", "Cleanliness"), "repair": ("维修质量", "Repair quality"),
    "noise": ("噪音", "Noise"), "other": ("其他", "Other"),
}
PLACE = Label("位置", "place")
_SOURCE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?\Z")

THANKS = Message("thanks", "谢谢您的评价！", "Thank you for your feedback!")
ASK_REASON = Message("ask_reason", "谢谢您的评价。方便告诉我们原因吗？（可跳过）",
                     "Thank you for your feedback. Would you tell us why? (You may skip this.)")
BAD_FACE = Message("invalid_face", "对不起，请点击其中一个表情。", "Sorry, please tap one of the faces.")
BAD_REASON = Message("invalid_reason", "对不起，请从列表中选择原因，或直接跳过。",
                     "Sorry, please choose a reason from the list, or skip.")
NO_PRESS = Message("unknown_press", "对不起，这次评价已经结束，谢谢您！", "Sorry, this rating has ended. Thank you!")


def misuse_reason(faces: list[str], max_presses: int, max_changes: int) -> str | None:
    """Why a run of presses (oldest first, the new one last, all within the window) looks like misuse, or None."""
    if sum(1 for f in faces if f == faces[-1]) > max_presses:
        return "repeated_presses"
    if len(faces) > max_presses:
        return "burst"
    if sum(1 for a, b in zip(faces, faces[1:]) if a != b) >= max_changes:
        return "alternation"
    return None


def reason_label(reason: str) -> tuple[str, str]:
    return REASON_LABELS.get(reason, (reason, reason))


@dataclass(frozen=True)
class PressResult:
    press_id: str
    face: str
    flagged: bool
    ask_reason: bool  # an unhappy face: offer feedback.unhappy_reasons (optional)


@dataclass(frozen=True)
class Satisfaction:
    period: str  # day / month
    start: str  # YYYY-MM-DD or YYYY-MM (site-local)
    presses: int
    counted: int
    flagged: int
    satisfied: int
    pct: float | None  # None when nothing was counted
    target_pct: float
    faces: dict[str, int]
    reasons: dict[str, int]

    @property
    def met_target(self) -> bool | None:
        return None if self.pct is None else self.pct >= self.target_pct

    def data(self) -> dict[str, Any]:
        return {"period": self.period, "start": self.start, "presses": self.presses, "counted": self.counted,
                "flagged": self.flagged, "satisfied": self.satisfied, "satisfaction_pct": self.pct,
                "target_pct": self.target_pct, "met_target": self.met_target, "faces": self.faces,
                "reasons": self.reasons}


class FeedbackService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -------------------------------------------------------------- presses

    def press(self, face: str, place: str | None = None, source: str = "kiosk", reason: str | None = None,
              now: Instant | None = None) -> Outcome[PressResult]:
        """One press of a face, from the touchscreen (source 'kiosk') or a GPIO button (source = its id)."""
        now = self.ctx.now(now)
        if face not in FACES:
            return Outcome.failure("invalid_face", BAD_FACE)
        if not isinstance(source, str) or not _SOURCE.match(source):
            return Outcome.failure("invalid_source", Message("invalid_source", "来源无效。", "Invalid feedback source."))
        try:
            place_text = clean_company(place if place is not None else self.ctx.cfg.kiosk.feedback_place,
                                       field="place", max_len=200, required=True, label=PLACE)
        except ValidationFailed as exc:
            return Outcome.failure("invalid", Message("invalid_place", exc.errors[0].zh, exc.errors[0].en), exc.errors)
        if reason is not None and (face not in UNHAPPY or reason not in self.ctx.cfg.feedback.unhappy_reasons):
            return Outcome.failure("invalid_reason", BAD_REASON)
        try:
            with self.ctx.store.transaction() as tx:
                result = self.press_tx(tx, face, place_text or "", source, reason, now)
        except StoreError as exc:
            return store_failure(exc, "feedback")
        message = ASK_REASON if result.ask_reason else THANKS
        return Outcome.success("recorded", message, result)

    def press_tx(self, tx: Transaction, face: str, place: str, source: str, reason: str | None,
                 now: Instant) -> PressResult:
        cfg = self.ctx.cfg.feedback
        window_ns = int(cfg.misuse_window_s * 1e9)
        recent = rows(tx, "SELECT id, face, flagged FROM feedback WHERE place = ? AND source = ? AND boot_id = ? "
                          "AND mono_ns > ? AND mono_ns <= ? ORDER BY mono_ns, rowid",
                      (place, source, now.boot_id, now.mono_ns - window_ns, now.mono_ns))
        misuse = misuse_reason([r["face"] for r in recent] + [face], cfg.misuse_max_presses, cfg.misuse_max_changes)
        flagged = misuse is not None
        press_id = uuid7()
        local = now.local(self.ctx.tz)
        tx.execute("INSERT INTO feedback (id, face, reason, place, source, flagged, flag_reason, ts, boot_id, mono_ns, "
                   "clock_synced, site_day, site_month) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (press_id, face, reason, place, source, int(flagged), misuse, now.ts, now.boot_id, now.mono_ns,
                    int(now.synced), local.date().isoformat(), local.strftime("%Y-%m")))
        data: dict[str, Any] = {"press_id": press_id, "face": face, "place": place, "source": source,
                                "flagged": flagged, "pressed_at": now.ts}
        if misuse is not None:
            data["flag_reason"] = misuse
        if reason is not None:
            data["reason"] = reason
        tx.emit("feedback", "feedback.press", data)
        if flagged:
            newly = [r["id"] for r in recent if not r["flagged"]]
            if newly:
                tx.conn.executemany("UPDATE feedback SET flagged = 1, flag_reason = ? WHERE id = ?",
                                    [(misuse, i) for i in newly])
                tx.emit("feedback", "feedback.flagged", {"press_ids": newly, "reason": misuse,
                                                         "place": place, "source": source})
                log.info("feedback at %s/%s: %d earlier presses flagged as misuse", place, source, len(newly))
        ask = face in UNHAPPY and bool(cfg.unhappy_reasons) and reason is None and source == "kiosk"
        return PressResult(press_id, face, flagged, ask)

    def add_reason(self, press_id: str, reason: str) -> Outcome[PressResult]:
        """The optional reason chosen after an unhappy face (once per press)."""
        if reason not in self.ctx.cfg.feedback.unhappy_reasons:
            return Outcome.failure("invalid_reason", BAD_REASON)
        try:
            with self.ctx.store.transaction() as tx:
                press = row(tx, "SELECT face, reason, flagged FROM feedback WHERE id = ?", (press_id,))
                if press is None or press["face"] not in UNHAPPY or press["reason"] is not None:
                    return Outcome.failure("unknown_press", NO_PRESS)
                tx.execute("UPDATE feedback SET reason = ? WHERE id = ?", (reason, press_id))
                tx.emit("feedback", "feedback.reason", {"press_id": press_id, "reason": reason})
        except StoreError as exc:
            return store_failure(exc, "feedback reason")
        return Outcome.success("recorded", THANKS, PressResult(press_id, press["face"], bool(press["flagged"]), False))

    # -------------------------------------------------------------- scores

    def satisfaction(self, period: str, start: str) -> Satisfaction:
        """Live figures for a site-local day (YYYY-MM-DD) or month (YYYY-MM), published or not."""
        reader = self.ctx.reader()
        reader.execute("BEGIN")  # a read transaction: the three queries see one snapshot
        try:
            return self._compute(reader, period, start)
        finally:
            reader.execute("COMMIT")

    def _compute(self, tx: Transaction, period: str, start: str) -> Satisfaction:
        column = {"day": "site_day", "month": "site_month"}[period]
        cfg = self.ctx.cfg.feedback
        include = 0 if cfg.exclude_flagged else 1
        head = tx.execute(
            f"SELECT count(*), coalesce(sum(flagged), 0), "
            f"coalesce(sum(CASE WHEN flagged = 0 OR ? THEN 1 ELSE 0 END), 0), "
            f"coalesce(sum(CASE WHEN (flagged = 0 OR ?) AND face IN ('happy', 'very_happy') THEN 1 ELSE 0 END), 0) "
            f"FROM feedback WHERE {column} = ?", (include, include, start)).fetchone()
        faces = {face: 0 for face in FACES}
        faces.update(dict(tx.execute(f"SELECT face, count(*) FROM feedback WHERE {column} = ? AND (flagged = 0 OR ?) "
                                     f"GROUP BY face", (start, include)).fetchall()))
        reasons = dict(tx.execute(f"SELECT reason, count(*) FROM feedback WHERE {column} = ? AND (flagged = 0 OR ?) "
                                  f"AND reason IS NOT NULL GROUP BY reason", (start, include)).fetchall())
        presses, flagged, counted, satisfied = (int(v) for v in head)
        pct = round(100.0 * satisfied / counted, 1) if counted else None
        return Satisfaction(period, start, presses, counted, flagged, satisfied, pct, cfg.satisfaction_target_pct,
                            faces, reasons)

    def publish_periods(self, now: Instant | None = None) -> list[Satisfaction]:
        """Publish feedback.daily / feedback.monthly for every finished period not yet published.

        Call once a day (any time; more often is harmless): each period is published exactly once.
        """
        now = self.ctx.now(now)
        local = now.local(self.ctx.tz)
        today, this_month = local.date().isoformat(), local.strftime("%Y-%m")
        published: list[Satisfaction] = []
        try:
            with self.ctx.store.transaction() as tx:
                for period, column, current in (("day", "site_day", today), ("month", "site_month", this_month)):
                    due = [r[0] for r in tx.execute(
                        f"SELECT DISTINCT {column} FROM feedback WHERE {column} < ? AND {column} NOT IN "
                        f"(SELECT start FROM satisfaction_periods WHERE period = ?) ORDER BY 1",
                        (current, period)).fetchall()]
                    for start in due:
                        result = self._compute(tx, period, start)
                        tx.execute("INSERT INTO satisfaction_periods (period, start, presses, counted, flagged, satisfied, "
                                   "satisfaction_pct, target_pct, computed_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                   (period, start, result.presses, result.counted, result.flagged, result.satisfied,
                                    result.pct, result.target_pct, now.ts))
                        tx.emit("feedback", f"feedback.{'daily' if period == 'day' else 'monthly'}", result.data())
                        published.append(result)
        except StoreError as exc:
            log.error("satisfaction periods not published: %s", type(exc).__name__)
            return []
        return published

    def periods(self, period: str = "day", limit: int = 31) -> list[dict[str, Any]]:
        """Published periods, newest first (for the staff screen)."""
        return self.ctx.store.query("SELECT * FROM satisfaction_periods WHERE period = ? ORDER BY start DESC LIMIT ?",
                                    (period, limit))

