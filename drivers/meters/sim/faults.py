"""Faults a simulated meter can be told to show, switchable while it runs."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Fault(str, enum.Enum):
    NONE = "none"
    NO_REPLY = "no_reply"  # dead meter
    BAD_CHECKSUM = "bad_checksum"  # sum / CRC byte corrupted
    GARBAGE = "garbage"  # noise instead of a frame
    SLOW = "slow"  # answers, but later than the master waits
    WRONG_ADDRESS = "wrong_address"  # a valid frame from another address
    ABNORMAL = "abnormal"  # DL/T 645 / CJ/T 188 abnormal reply, Modbus exception


@dataclass(frozen=True)
class FaultSpec:
    fault: Fault = Fault.NONE
    slow_s: float = 1.0  # extra reply delay for SLOW
    code: int | None = None  # error byte (DL/T 645), exception code (Modbus), status (CJ/T 188)
    times: int | None = None  # replies affected before the fault clears itself; None = until cleared

    @classmethod
    def of(cls, fault: Fault | str, **kwargs: object) -> FaultSpec:
        return cls(Fault(fault), **kwargs)  # type: ignore[arg-type]
