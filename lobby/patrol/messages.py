"""What the kiosk shows after a patrol tap: Chinese first, English beside, polite forms.

DOMAIN wording rules: 您好/请/谢谢/对不起 first; after an error apologise and say what to
do next; offer the way forward rather than a bare "no". Guard names are never shown
(the screen is in a public lobby).
"""

from __future__ import annotations

import datetime as dt


def _next(next_name: str | None, next_due: dt.datetime | None) -> tuple[str, str]:
    if next_name is None:
        return "", ""
    if next_due is None:
        return f"下一个巡更点：{next_name}。", f"Next checkpoint: {next_name}."
    hhmm = next_due.strftime("%H:%M")
    return (f"下一个巡更点：{next_name}，请于 {hhmm} 前到达。",
            f"Next checkpoint: {next_name}, please by {hhmm}.")


def scan_message(status: str, *, checkpoint: str | None, point: int | None, points: int | None,
                 next_name: str | None, next_due: dt.datetime | None, completed: bool,
                 expected_name: str | None = None, start_name: str | None = None) -> tuple[str, str]:
    """(zh, en) for one classified scan."""
    nxt_zh, nxt_en = _next(next_name, next_due)
    where_zh = f"第 {point}/{points} 点 {checkpoint}" if point and points else (checkpoint or "")
    where_en = f"Point {point} of {points} ({checkpoint})" if point and points else (checkpoint or "")
    where_en_mid = where_en[:1].lower() + where_en[1:] if point and points else where_en
    if completed and status in ("on_time", "late", "early", "out_of_order"):
        extra_zh = {"late": "（超出时限，已记为迟到）", "early": "（早于计划，已记录）",
                    "out_of_order": "（顺序有误，已记录）"}.get(status, "")
        extra_en = {"late": " (after its window: recorded as late)", "early": " (early: recorded)",
                    "out_of_order": " (out of order: recorded)"}.get(status, "")
        return (f"谢谢！{where_zh} 已签到{extra_zh}。本轮巡更已结束，辛苦了。",
                f"Thank you. {where_en} recorded{extra_en}. This round is finished.")
    if status == "on_time":
        return f"谢谢！{where_zh} 已签到。{nxt_zh}", f"Thank you. {where_en} recorded. {nxt_en}".rstrip()
    if status == "early":
        return (f"谢谢！{where_zh} 已签到（早于计划时间，已记录）。{nxt_zh}",
                f"Thank you. {where_en} recorded (earlier than planned). {nxt_en}".rstrip())
    if status == "late":
        return (f"谢谢！{where_zh} 已签到（超出时限，已记为迟到）。{nxt_zh}",
                f"Thank you. {where_en} recorded, after its window (late). {nxt_en}".rstrip())
    if status == "out_of_order":
        if expected_name:
            return (f"已签到 {where_zh}，但顺序有误。请先巡查：{expected_name}。",
                    f"{where_en} recorded, but out of order. Please visit {expected_name} first.")
        if start_name:
            return (f"对不起，当前没有进行中的巡更。请从 {start_name} 开始，谢谢。",
                    f"Sorry, no round is in progress here. Please start at {start_name}. Thank you.")
        return (f"对不起，{checkpoint} 不在当前巡更路线上，已记录。",
                f"Sorry, {checkpoint} is not on a round in progress; the tap was recorded.")
    if status == "repeated":
        return (f"您好，{checkpoint} 已经签到过，无需重复刷卡。{nxt_zh}",
                f"Hello, {checkpoint} is already recorded; no need to tap again. {nxt_en}".rstrip())
    if status == "too_late":
        return (f"对不起，{where_zh} 已超时，记为漏检；本次到场已记录。{nxt_zh}",
                f"Sorry, {where_en_mid} was past its time and counts as missed; this visit is recorded. {nxt_en}".rstrip())
    if status == "guard":
        return ("您好，巡更人员卡已识别。请刷巡更点，谢谢。",
                "Hello, guard card recognised. Please tap the checkpoints. Thank you.")
    if status == "unknown_guard":
        return ("对不起，无法确认巡更人员。请先刷您的巡更人员卡，再刷巡更点。",
                "Sorry, we could not tell who is on patrol. Please tap your guard card first, then the checkpoint.")
    # unknown_tag
    return ("对不起，无法识别此卡或标签。请换一张卡再试，或联系中控室，谢谢。",
            "Sorry, this card or tag is not recognised. Please try another card or contact the control room. Thank you.")
