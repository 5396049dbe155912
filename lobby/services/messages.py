"""What the touchscreen shows: bilingual messages, field errors, operation outcomes.

Every operation a screen calls returns an Outcome (never raises for anything a
person can type or do): `ok`, a short machine `status` the screen switches on,
a `message` to show (Chinese first, English beside) and, for forms, one
FieldError per bad field. Wording follows the department's rules: polite forms
(您好, 请, 谢谢, 对不起), apologise after an error and say what to do next, no
sales tone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    code: str
    zh: str
    en: str

    def text(self, sep: str = "\n") -> str:
        """Chinese first, English beside (the default puts English on the next line)."""
        return f"{self.zh}{sep}{self.en}"


@dataclass(frozen=True)
class FieldError:
    """One invalid form field: the screen marks `field` and shows zh + en."""

    field: str
    code: str
    zh: str
    en: str

    @property
    def message(self) -> Message:
        return Message(self.code, self.zh, self.en)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    ok: bool
    status: str
    message: Message
    value: T | None = None
    errors: tuple[FieldError, ...] = field(default_factory=tuple)

    @classmethod
    def success(cls, status: str, message: Message, value: T | None = None) -> "Outcome[T]":
        return cls(True, status, message, value)

    @classmethod
    def failure(cls, status: str, message: Message, errors: tuple[FieldError, ...] = (),
                value: T | None = None) -> "Outcome[T]":
        return cls(False, status, message, value, tuple(errors))

    def error_for(self, field_name: str) -> FieldError | None:
        return next((e for e in self.errors if e.field == field_name), None)


class ValidationFailed(Exception):
    """Raised inside a service when input is invalid; turned into an Outcome before returning."""

    def __init__(self, *errors: FieldError) -> None:
        super().__init__(", ".join(f"{e.field}:{e.code}" for e in errors))
        self.errors = tuple(errors)


# ------------------------------------------------------------------ common messages

CHECK_FORM = Message("invalid", "对不起，部分信息需要修改，请按提示检查后再提交。",
                     "Sorry, some details need a change. Please check the marked fields and submit again.")
STORE_BUSY = Message("store_busy", "对不起，系统暂时繁忙，请稍后再试或请前台协助。",
                     "Sorry, the system is busy. Please try again in a moment or ask the front desk.")
CARD_UNKNOWN = Message("unknown_card", "对不起，无法识别这张卡。访客请在登记后使用前台发放的访客卡；如需帮助请联系前台。谢谢！",
                       "Sorry, this card is not recognised. Visitors: please use the pass card from the front desk "
                       "after checking in; the front desk will gladly help. Thank you.")
TAP_FAILED = Message("tap_error", "对不起，刷卡未能处理，请再刷一次；如仍不行请联系前台。",
                     "Sorry, the tap could not be processed. Please tap again; if it still fails, ask the front desk.")
ASK_DESK = "请前台工作人员协助。"
ASK_DESK_EN = "Please ask the front desk for help."


def please_wait(seconds: int) -> Message:
    """After several wrong tries at this kiosk (lobby.services.guessing): a short wait, and the desk."""
    return Message("rate_limited",
                   f"对不起，这台机器上输入错误的次数较多，为保护访客信息，请{seconds}秒后再试，或请前台协助。谢谢！",
                   f"Sorry, there have been several wrong tries at this kiosk. To protect visitors' details, "
                   f"please try again in {seconds} second{'s' if seconds != 1 else ''}, or ask the front desk "
                   f"for help. Thank you.")


def print_message(printed: bool, document_zh: str, document_en: str) -> Message:
    if printed:
        return Message("printed", f"请取走您的{document_zh}。", f"Please collect your {document_en}.")
    return Message("print_held",
                   f"对不起，打印机暂时无法打印（可能缺纸），请到前台领取您的{document_zh}。",
                   f"Sorry, the printer cannot print right now (it may be out of paper). "
                   f"Please collect your {document_en} at the front desk.")
