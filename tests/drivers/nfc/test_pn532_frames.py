"""The simulator's frame codec: golden frames and a fuzzed parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.nfc.sim.pn532 import (ACK_FRAME, CHIP_TFI, HOST_TFI, MAX_BODY, NACK_FRAME, Frame,
                               FrameError, decode_frame, encode_frame)

# GetFirmwareVersion as libnfc sends it, and the PN532's answer (v1.6).
GET_FIRMWARE = bytes.fromhex("0000ff02fed4022a00")
FIRMWARE_REPLY = bytes.fromhex("0000ff06fad50332010607e800")
# Diagnose "libnfc" communication test, copied from a libnfc 1.8 trace.
DIAGNOSE = bytes.fromhex("0000ff09f7d400006c69626e6663be00")


def test_encode_normal_frame_matches_the_pn532() -> None:
    assert encode_frame(CHIP_TFI, bytes([0x03, 0x32, 0x01, 0x06, 0x07])) == FIRMWARE_REPLY
    assert encode_frame(HOST_TFI, bytes([0x02])) == GET_FIRMWARE


def test_decode_normal_frame() -> None:
    assert decode_frame(DIAGNOSE) == (Frame("info", HOST_TFI, b"\x00\x00libnfc"), len(DIAGNOSE))


def test_decode_skips_the_wakeup_preamble() -> None:
    wakeup = bytes([0x55, 0x55] + [0x00] * 14)
    frame, consumed = decode_frame(wakeup + GET_FIRMWARE)
    assert frame == Frame("info", HOST_TFI, b"\x02")
    assert consumed == len(wakeup) + len(GET_FIRMWARE)


def test_extended_frame_round_trip() -> None:
    payload = bytes([0x40, 0x01]) + bytes(range(256)) + bytes(4)
    encoded = encode_frame(HOST_TFI, payload)
    body_len = len(payload) + 1
    assert encoded[:8] == bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, body_len >> 8, body_len & 0xFF,
                                 (-(body_len >> 8) - (body_len & 0xFF)) & 0xFF])
    assert decode_frame(encoded) == (Frame("info", HOST_TFI, payload), len(encoded))


def test_body_longer_than_an_extended_frame_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_frame(HOST_TFI, bytes(MAX_BODY))


def test_ack_and_nack() -> None:
    assert decode_frame(ACK_FRAME) == (Frame("ack"), len(ACK_FRAME))
    assert decode_frame(NACK_FRAME)[0] == Frame("nack")


def test_ack_then_command_in_one_buffer() -> None:
    buf = ACK_FRAME + GET_FIRMWARE
    frame, consumed = decode_frame(buf)
    assert frame == Frame("ack")
    assert decode_frame(buf[consumed:])[0] == Frame("info", HOST_TFI, b"\x02")


def test_bad_length_checksum() -> None:
    bad = bytearray(GET_FIRMWARE)
    bad[4] ^= 0x01
    with pytest.raises(FrameError) as err:
        decode_frame(bytes(bad))
    assert err.value.skip == 3  # resynchronise just after the start code


def test_bad_data_checksum() -> None:
    bad = bytearray(GET_FIRMWARE)
    bad[-2] ^= 0xFF
    with pytest.raises(FrameError) as err:
        decode_frame(bytes(bad))
    assert err.value.skip == len(GET_FIRMWARE) - 1


def test_bad_extended_length_checksum() -> None:
    encoded = bytearray(encode_frame(HOST_TFI, bytes(260)))
    encoded[7] ^= 0x10
    with pytest.raises(FrameError):
        decode_frame(bytes(encoded))


def test_incomplete_frame_waits_for_more() -> None:
    for cut in range(len(GET_FIRMWARE) - 1):
        frame, consumed = decode_frame(GET_FIRMWARE[:cut])
        assert frame is None
        assert consumed <= 1  # at most the preamble's first zero is dropped


def test_frame_without_postamble_is_decoded() -> None:
    assert decode_frame(GET_FIRMWARE[:-1]) == (Frame("info", HOST_TFI, b"\x02"), len(GET_FIRMWARE) - 1)


def _check_decode(buf: bytes) -> None:
    try:
        frame, consumed = decode_frame(buf)
    except FrameError as exc:
        assert 1 <= exc.skip <= len(buf)  # always progress, never past the buffer
        return
    assert 0 <= consumed <= len(buf)
    if frame is not None:
        assert consumed >= 1


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_frame_error(buf: bytes) -> None:
    _check_decode(buf)


@settings(max_examples=500, deadline=None)
@given(payload=st.binary(min_size=1, max_size=300), position=st.integers(min_value=0),
       value=st.integers(min_value=0, max_value=255), cut=st.integers(min_value=0))
def test_mutated_frames_raise_only_frame_error(payload: bytes, position: int, value: int, cut: int) -> None:
    frame = bytearray(encode_frame(HOST_TFI, payload))
    frame[position % len(frame)] = value
    _check_decode(bytes(frame[:len(frame) - cut % 4]))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=MAX_BODY - 1))
def test_encode_decode_round_trip(payload: bytes) -> None:
    encoded = encode_frame(HOST_TFI, payload)
    assert decode_frame(encoded) == (Frame("info", HOST_TFI, payload), len(encoded))
