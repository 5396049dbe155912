"""Random and mutated bytes into every decoder: the decoder's own error, or a JSON-ready result."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.meters import cjt188, dlt645, modbus_rtu
from drivers.meters.decode import decode_frame
from drivers.meters.devices import Cjt188Device, Dlt645Device, ModbusDevice
from drivers.meters.errors import FrameError
from drivers.meters.exchanges import plan, scan

GOLDEN = {
    "dlt645": [
        "FE FE FE FE 68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 16",
        "68 94 35 21 90 88 55 68 D1 01 35 2E 16",
        "FE FE FE FE 68 94 35 21 90 88 55 68 93 06 C7 68 54 C3 BB 88 49 16",
        "68 94 35 21 90 88 55 68 B1 08 33 33 34 33 59 35 33 33 A1 16",
    ],
    "cjt188": [
        "FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16",
        "68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C 00 77 66 55 2C "
        "31 01 22 11 05 15 20 21 84 13 16",
        "68 10 44 33 22 11 00 33 78 C1 03 00 01 00 92 16",
    ],
    "modbus": ["01 04 00 00 00 02 71 CB", "01 04 04 00 F5 01 C4 EB B5", "01 83 02 C0 F1",
               "01 03 00 00 00 0A C5 CD"],
}
PROTOCOLS = st.sampled_from(sorted(GOLDEN))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(protocol: str, data: bytes) -> None:
    try:
        result = decode_frame(protocol, data)
    except FrameError:
        return
    json.dumps(result)  # must be JSON-ready


@FUZZ
@given(protocol=PROTOCOLS, data=st.binary(max_size=80))
def test_random_bytes(protocol: str, data: bytes) -> None:
    check(protocol, data)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    protocol = draw(PROTOCOLS)
    frame = bytearray(bytes.fromhex(draw(st.sampled_from(GOLDEN[protocol]))))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(frame) - 1, 0)))
        if op == "flip" and frame:
            frame[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and frame:
            frame[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            frame.insert(pos, draw(st.integers(0, 255)))
        elif op == "delete" and frame:
            del frame[pos]
        elif op == "truncate":
            del frame[pos:]
    return protocol, bytes(frame)


@FUZZ
@given(case=mutated())
def test_mutated_golden_frames(case: tuple[str, bytes]) -> None:
    check(*case)


@FUZZ
@given(data=st.binary(max_size=80))
def test_frame_parsers(data: bytes) -> None:
    for parse in (dlt645.parse_frame, cjt188.parse_frame, modbus_rtu.parse_request, modbus_rtu.parse_response):
        try:
            parse(data)
        except FrameError:
            pass


EXCHANGES = [
    ex
    for device in (Dlt645Device(device_id="e", address="558890213594"),
                   Cjt188Device(device_id="w", address="78330011223344"),
                   ModbusDevice(device_id="m", unit=1, register_map="eastron_sdm120"))
    for ex in plan(device)
]


@FUZZ
@given(index=st.integers(0, len(EXCHANGES) - 1), noise=st.binary(max_size=60),
       golden=st.sampled_from([g for frames in GOLDEN.values() for g in frames]), tail=st.binary(max_size=20))
def test_bus_scanner_never_raises(index: int, noise: bytes, golden: str, tail: bytes) -> None:
    result = scan(noise + bytes.fromhex(golden) + tail, EXCHANGES[index])
    assert result.answer is None or result.end > result.start
