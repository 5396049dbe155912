"""One request and its reply, per protocol: what to send and how to judge what comes back.

The bus owns timing and the port; this module owns meaning. A poll of a device is
a list of :class:`Exchange`; for each, the bus feeds the bytes it has received so
far to :func:`scan`, which hunts for a valid frame among echo and garbage and asks
the exchange's ``judge`` whether the frame answers the request.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.meters import cjt188, dlt645, frame68, modbus_rtu
from drivers.meters.bcd import address_to_wire
from drivers.meters.devices import Cjt188Device, DeviceSpec, Dlt645Device, ModbusDevice
from drivers.meters.errors import BadChecksum, FrameError, TruncatedFrame
from drivers.meters.regmap import ReadBlock

log = logging.getLogger(__name__)

MAX_BUFFER = 1024


class FailKind(str, enum.Enum):
    TIMEOUT = "timeout"
    CHECKSUM = "checksum"
    MALFORMED = "malformed"
    WRONG_ADDRESS = "wrong_address"
    EXCEPTION = "exception"  # a valid refusal: Modbus exception, DL/T 645 / CJ/T 188 abnormal reply
    PORT = "port"


@dataclass(frozen=True, slots=True)
class PointDef:
    name: str
    unit: str
    cumulative: bool = False


@dataclass(frozen=True)
class Observation:
    """Something on the line that was not the answer."""

    kind: FailKind
    detail: str


@dataclass(frozen=True)
class Answer:
    """A valid reply to the request (a refusal is a valid reply too)."""

    values: dict[str, float] = field(default_factory=dict)
    attributes: dict[str, object] = field(default_factory=dict)
    point_errors: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None


Verdict = Answer | Observation | None  # None: a frame, but not meant for us (echo, late reply)


@dataclass(frozen=True, slots=True)
class Exchange:
    label: str  # names the request in logs and reasons
    request: bytes
    points: tuple[PointDef, ...]
    reply_budget: int  # bytes of the longest good reply, for the read deadline
    parse: Callable[[bytes], tuple[Any, int]]
    judge: Callable[[Any], Verdict]
    is_candidate: Callable[[bytes, int], bool]  # can a reply frame start at this offset?
    owns: Callable[[bytes, int], bool]  # does that frame claim to come from our device?


@dataclass(frozen=True)
class ScanResult:
    answer: Answer | None
    start: int = 0  # first byte of the answering frame, wake-up preamble included
    end: int = 0
    observations: tuple[Observation, ...] = ()
    stray_bytes: int = 0  # received bytes not explained by echo or a frame
    final: bool = False  # our device's reply arrived complete but was rejected: stop waiting


def scan(buf: bytes, exchange: Exchange) -> ScanResult:
    """Hunt for the answer in everything received so far."""
    first = _skip_echo(buf, exchange.request)
    observations: list[Observation] = []
    covered = 0
    final = False
    pending_until = 0  # end of a frame still arriving: errors inside it are its payload, not frames
    for off in range(first, len(buf)):
        if not exchange.is_candidate(buf, off):
            continue
        try:
            frame, size = exchange.parse(buf[off:])
        except TruncatedFrame as exc:
            pending_until = max(pending_until, off + exc.need)
            continue
        except FrameError as exc:
            if off >= pending_until and exchange.owns(buf, off):  # else noise holding a start byte
                kind = FailKind.CHECKSUM if isinstance(exc, BadChecksum) else FailKind.MALFORMED
                observations.append(Observation(kind, str(exc)))
                final = True
            continue
        verdict = exchange.judge(frame)
        if isinstance(verdict, Answer):
            return ScanResult(verdict, _preamble_start(buf, off), off + size, tuple(observations))
        if isinstance(verdict, Observation):
            observations.append(verdict)
            mine = off >= pending_until and exchange.owns(buf, off)
            final = final or (mine and verdict.kind is not FailKind.WRONG_ADDRESS)
        covered = max(covered, off + size)
    stray = max(0, len(buf) - first) if not observations and covered == 0 else 0
    return ScanResult(None, observations=tuple(observations), stray_bytes=stray, final=final)


def _skip_echo(buf: bytes, request: bytes) -> int:
    """Some RS-485 adapters hear their own transmission; skip it."""
    if buf.startswith(request):
        return len(request)
    if request.startswith(buf):
        return len(buf)
    return 0


def _preamble_start(buf: bytes, off: int) -> int:
    start = off
    while start > 0 and off - start < frame68.MAX_PREAMBLE and buf[start - 1] == frame68.WAKE:
        start -= 1
    return start


def _owns_at(wire: bytes, at: int) -> Callable[[bytes, int], bool]:
    """A frame whose address bytes (at offset ``at`` from its start) equal ``wire``."""
    def owns(buf: bytes, off: int) -> bool:
        return buf[off + at : off + at + len(wire)] == wire
    return owns


def _nobody(buf: bytes, off: int) -> bool:
    """For broadcasts: any meter may answer, so a bad frame cannot be pinned on one."""
    return False


def classify(result: ScanResult, received: int) -> Observation:
    """Turn an unanswered exchange into the one failure it counts as."""
    by_kind = {o.kind: o for o in result.observations}
    for kind in (FailKind.CHECKSUM, FailKind.WRONG_ADDRESS, FailKind.MALFORMED):
        if kind in by_kind:
            return by_kind[kind]
    if result.stray_bytes:
        return Observation(FailKind.MALFORMED, f"{result.stray_bytes} bytes of noise, no valid frame")
    if received:
        return Observation(FailKind.TIMEOUT, "no reply to this request (only other traffic was heard)")
    return Observation(FailKind.TIMEOUT, "no reply")


# --- DL/T 645-2007 -----------------------------------------------------------------------------

def _dlt_candidate(buf: bytes, off: int) -> bool:
    return buf[off] == dlt645.START


def _judge_dlt645_read(device: Dlt645Device, item: dlt645.DataItem) -> Callable[[Any], Verdict]:
    def judge(frame: dlt645.Frame) -> Verdict:
        if not frame.is_reply:
            return None
        if frame.address != device.address:
            return Observation(FailKind.WRONG_ADDRESS,
                               f"reply came from address {frame.address}, expected {device.address}")
        if frame.function != dlt645.FN_READ:
            return Observation(FailKind.MALFORMED, f"reply has control code {frame.control:02X}, expected 91")
        if frame.is_abnormal:
            err = frame.data[0] if frame.data else 0
            reasons = ", ".join(dlt645.describe_error_byte(err))
            return Answer(refusal=f"meter refused {item.name} ({item.di_hex}): {reasons}")
        if frame.has_follow_up:
            return Observation(FailKind.MALFORMED, f"meter announced follow-up frames (control "
                               f"{frame.control:02X}) for {item.di_hex}; single-value reads do not use them")
        if frame.di != item.di:
            log.debug("ignoring reply for DI %s while waiting for %s", frame.di, item.di_hex)
            return None
        try:
            value = item.decode(frame.data[4:])
        except FrameError as exc:
            return Observation(FailKind.MALFORMED, str(exc))
        return Answer(values={item.name: value})
    return judge


def plan_dlt645(device: Dlt645Device) -> list[Exchange]:
    plans = []
    for name in device.items:
        item = dlt645.ITEMS_BY_NAME[name]
        plans.append(Exchange(
            label=f"read {item.name} (DI {item.di_hex})",
            request=dlt645.build_read(device.address, item.di, device.preamble),
            points=(PointDef(item.name, item.unit, item.cumulative),),
            reply_budget=4 + dlt645.MIN_FRAME + 4 + item.nbytes,
            parse=dlt645.parse_frame,
            judge=_judge_dlt645_read(device, item),
            is_candidate=_dlt_candidate,
            owns=_owns_at(address_to_wire(device.address, 6), 1),
        ))
    return plans


def _judge_dlt645_address(frame: dlt645.Frame) -> Verdict:
    if not (frame.is_reply and frame.function == dlt645.FN_READ_ADDRESS):
        return None
    if frame.is_abnormal:
        return Answer(refusal="meter refused to give its address")
    if len(frame.data) != 6:
        return Observation(FailKind.MALFORMED, f"address reply carries {len(frame.data)} bytes, expected 6")
    return Answer(attributes={"address": frame.address})


def plan_dlt645_discovery(preamble: int = 4) -> Exchange:
    return Exchange("read address (broadcast)", dlt645.build_read_address(preamble), (),
                    4 + dlt645.MIN_FRAME + 6, dlt645.parse_frame, _judge_dlt645_address, _dlt_candidate,
                    _nobody)


# --- CJ/T 188-2004 ------------------------------------------------------------------------------

CJT188_POINTS = (PointDef("volume", "m³", True), PointDef("volume_settlement", "m³", True))


def _judge_cjt188(device: Cjt188Device) -> Callable[[Any], Verdict]:
    broadcast = device.address == cjt188.BROADCAST_ADDRESS

    def judge(frame: cjt188.Frame) -> Verdict:
        if not frame.is_reply:
            return None
        if frame.meter_type != device.meter_type:
            return Observation(FailKind.WRONG_ADDRESS, f"reply came from a meter of type "
                               f"{frame.meter_type:02X}h, expected {device.meter_type:02X}h")
        if not broadcast and frame.address != device.address:
            return Observation(FailKind.WRONG_ADDRESS,
                               f"reply came from address {frame.address}, expected {device.address}")
        if frame.function != cjt188.FN_READ:
            return Observation(FailKind.MALFORMED, f"reply has control code {frame.control:02X}, expected 81")
        if frame.is_abnormal:
            detail = ""
            if len(frame.data) >= 3:
                status = cjt188.Status(bytes(frame.data[1:3]))
                detail = f", status {status.raw.hex(' ').upper()} (valve {status.valve})"
            return Answer(refusal=f"meter answered abnormal (C1h){detail}")
        try:
            m = cjt188.decode_measurement(frame.data)
        except FrameError as exc:
            return Observation(FailKind.MALFORMED, str(exc))
        if m.volume_unit != "m³" or m.settlement_unit != "m³":
            return Observation(FailKind.MALFORMED, f"flow unit {m.volume_unit} is not a volume")
        attributes = {"meter_address": frame.address, "meter_time": m.meter_time, **m.status.as_dict()}
        return Answer(values={"volume": m.volume, "volume_settlement": m.settlement_volume},
                      attributes=attributes)
    return judge


def _cjt_candidate(buf: bytes, off: int) -> bool:
    return buf[off] == cjt188.START


def plan_cjt188(device: Cjt188Device) -> list[Exchange]:
    request = cjt188.build_read(device.meter_type, device.address, 0,
                                di_low_first=device.di_low_first, preamble=device.preamble)
    broadcast = device.address == cjt188.BROADCAST_ADDRESS
    owns = _nobody if broadcast else _owns_at(address_to_wire(device.address, 7), 2)
    return [Exchange("read flow (DI 901F)", request, CJT188_POINTS, 4 + cjt188.MIN_FRAME + 22,
                     cjt188.parse_frame, _judge_cjt188(device), _cjt_candidate, owns)]


# --- Modbus RTU ---------------------------------------------------------------------------------

def _modbus_candidate(function_code: int) -> Callable[[bytes, int], bool]:
    def candidate(buf: bytes, off: int) -> bool:
        return off + 1 < len(buf) and buf[off + 1] in (function_code, function_code | 0x80)
    return candidate


def _judge_modbus(device: ModbusDevice, block: ReadBlock) -> Callable[[Any], Verdict]:
    fc = block.function_code
    span = f"{block.address:04X}..{block.address + block.count - 1:04X}"

    def judge(frame: modbus_rtu.Frame) -> Verdict:
        if frame.function_code not in (fc, fc | 0x80):
            return None
        if frame.unit != device.unit:
            return Observation(FailKind.WRONG_ADDRESS,
                               f"reply came from unit {frame.unit}, expected {device.unit}")
        if frame.is_exception:
            code = frame.pdu.exception_code
            name = modbus_rtu.EXCEPTION_NAMES.get(code, "unknown exception")
            return Answer(refusal=f"exception {code:02X} ({name}) reading registers {span}")
        registers = list(frame.pdu.registers)
        if len(registers) != block.count:
            log.debug("ignoring %d-register reply while waiting for %d", len(registers), block.count)
            return None
        values = block.values(registers)
        errors = {k: "meter returned a non-number" for k, v in values.items() if not math.isfinite(v)}
        return Answer(values={k: v for k, v in values.items() if k not in errors}, point_errors=errors)
    return judge


def _modbus_parse(buf: bytes) -> tuple[modbus_rtu.Frame, int]:
    return modbus_rtu.parse_response(buf)


def plan_modbus(device: ModbusDevice) -> list[Exchange]:
    plans = []
    for block in device.map.blocks():
        plans.append(Exchange(
            label=f"FC{block.function_code:02d} {block.address:04X}+{block.count}",
            request=modbus_rtu.build_read_request(device.unit, block.function_code, block.address, block.count),
            points=tuple(PointDef(s.name, s.unit, s.cumulative) for s in block.specs),
            reply_budget=5 + 2 * block.count,
            parse=_modbus_parse,
            judge=_judge_modbus(device, block),
            is_candidate=_modbus_candidate(block.function_code),
            owns=_owns_at(bytes([device.unit]), 0),
        ))
    return plans


def plan(device: DeviceSpec) -> list[Exchange]:
    if isinstance(device, ModbusDevice):
        return plan_modbus(device)
    if isinstance(device, Dlt645Device):
        return plan_dlt645(device)
    if isinstance(device, Cjt188Device):
        return plan_cjt188(device)
    raise TypeError(f"not a meter device spec: {device!r}")
