"""One day's visitors, tickets and feedback as CSV for the lobby desk.

UTF-8 with a BOM so Excel opens Chinese correctly; headers in Chinese and
English. The files hold personal data: they are written with mode 0600, and a
cell that Excel would run as a formula (starting with = + - @, tab or CR) is
prefixed with an apostrophe (CSV injection).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from lobby.services.context import ServiceContext
from lobby.services.feedback import FACES, reason_label
from lobby.services.tickets import KINDS, STATUSES, category_label
from lobby.services.visitors import PURPOSES

VISIT_STATUS = {"in": "在访 In", "out": "已离开 Out", "held": "待审核 Held", "denied": "未通过 Denied"}

VISITOR_COLUMNS = [
    ("日期 Day", "site_day"), ("进入时间 Time in", "checked_in_ts"), ("离开时间 Time out", "checked_out_ts"),
    ("姓名 Name", "name"), ("手机号 Phone", "phone"), ("单位 Company", "company"),
    ("被访单元 Host unit", "host_unit"), ("被访单位 Host company", "host_company"), ("被访人 Host person", "host_person"),
    ("事由 Purpose", "purpose"), ("人数 People", "party_size"), ("通行证号 Pass No.", "pass_no"),
    ("施工许可证号 Permit No.", "permit_no"), ("状态 Status", "status"), ("离开方式 Check-out", "checkout_method"),
    ("邀请 Invitation", "invitation_id"), ("登记编号 Visit ID", "id"),
]
TICKET_COLUMNS = [
    ("单号 Ticket No.", "ticket_no"), ("时间 Time", "created_ts"), ("类型 Kind", "kind"), ("类别 Category", "category"),
    ("楼栋 Building", "building"), ("楼层 Floor", "floor"), ("区域 Area", "area"), ("紧急 Urgent", "urgent"),
    ("描述 Description", "description"), ("联系人 Contact", "contact_name"), ("联系电话 Phone", "contact_phone"),
    ("状态 Status", "status"), ("处理人 Assignee", "assignee"), ("最新答复 Latest reply", "latest_reply"),
    ("来源 Source", "source"),
]
FEEDBACK_COLUMNS = [
    ("时间 Time", "ts"), ("评价 Rating", "face"), ("原因 Reason", "reason"), ("位置 Place", "place"),
    ("来源 Source", "source"), ("疑似误按 Flagged", "flagged"),
]


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


class Exporter:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _time(self, ts: str | None) -> str:
        return self.ctx.local(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""

    def _write(self, path: Path, columns: list[tuple[str, str]], records: list[dict[str, Any]]) -> Path:
        import csv  # only when an export is made

        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([title for title, _ in columns])
            for r in records:
                writer.writerow([safe_cell(r.get(key)) for _, key in columns])
        os.replace(tmp, path)
        return path

    def export_day(self, day: dt.date, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write visitors-, tickets- and feedback-<day>.csv into out_dir; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        iso = day.isoformat()
        store = self.ctx.store
        visits = store.query("SELECT v.*, p.pass_no FROM visits v LEFT JOIN visitor_passes p ON p.visit_id = v.id "
                             "WHERE v.site_day = ? ORDER BY v.checked_in_ts", (iso,))
        for v in visits:
            v["checked_in_ts"], v["checked_out_ts"] = self._time(v["checked_in_ts"]), self._time(v["checked_out_ts"])
            v["purpose"] = " ".join(PURPOSES.get(v["purpose"], (v["purpose"], "")))
            v["status"] = VISIT_STATUS.get(v["status"], v["status"])
        tickets = store.query(
            "SELECT t.*, (SELECT reply FROM ticket_updates u WHERE u.ticket_no = t.ticket_no AND reply IS NOT NULL "
            "ORDER BY id DESC LIMIT 1) AS latest_reply FROM tickets t WHERE site_day = ? ORDER BY created_ts", (iso,))
        for t in tickets:
            t["created_ts"] = self._time(t["created_ts"])
            t["kind"] = " ".join(KINDS[t["kind"]])
            t["category"] = " ".join(category_label(t["category"]))
            t["status"] = " ".join(STATUSES[t["status"]])
            t["urgent"] = "是 Yes" if t["urgent"] else ""
        presses = store.query("SELECT * FROM feedback WHERE site_day = ? ORDER BY ts", (iso,))
        for f in presses:
            f["ts"] = self._time(f["ts"])
            f["face"] = " ".join(FACES[f["face"]])
            f["reason"] = " ".join(reason_label(f["reason"])) if f["reason"] else ""
            f["flagged"] = "是 Yes" if f["flagged"] else ""
        return [self._write(out / f"visitors-{iso}.csv", VISITOR_COLUMNS, visits),
                self._write(out / f"tickets-{iso}.csv", TICKET_COLUMNS, tickets),
                self._write(out / f"feedback-{iso}.csv", FEEDBACK_COLUMNS, presses)]
