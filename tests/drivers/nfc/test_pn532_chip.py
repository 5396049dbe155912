"""The simulated PN532's command handling and its control API."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.nfc.sim.pn532 import ACK_FRAME, PN532Chip, PN532Simulator, Pending, Tag, decode_frame, encode_frame
from drivers.nfc.sim.pn532_control import ControlClient, ControlError, ControlServer

NOW = 100.0
STATUS_COMMANDS = {0x40, 0x42, 0x16, 0x44, 0x52}  # replies that start with a status byte


def test_diagnose_echoes_the_libnfc_test() -> None:
    assert PN532Chip().execute(b"\x00\x00libnfc", NOW) == b"\x00libnfc"


def test_firmware_version() -> None:
    assert PN532Chip().execute(b"\x02", NOW) == bytes([0x32, 0x01, 0x06, 0x07])


def test_read_register_answers_one_byte_per_address() -> None:
    chip = PN532Chip()
    chip.execute(bytes([0x08, 0x63, 0x02, 0x80]), NOW)
    assert chip.execute(bytes([0x06, 0x63, 0x02, 0x63, 0x03]), NOW) == bytes([0x80, 0x00])


def test_list_passive_target_reports_the_tag() -> None:
    chip = PN532Chip()
    chip.present(Tag("04A2243B", "classic_1k"))
    assert chip.execute(bytes([0x4A, 0x01, 0x00]), NOW) == bytes.fromhex("0101 0004 08 04 04a2243b")


def test_desfire_activation_carries_its_ats() -> None:
    chip = PN532Chip()
    chip.present(Tag("04112233445566", "desfire"))
    reply = chip.execute(bytes([0x4A, 0x01, 0x00]), NOW)
    assert reply is not None and reply.endswith(bytes.fromhex("067577810280"))


def test_select_by_cascaded_uid() -> None:
    chip = PN532Chip()
    chip.present(Tag("04A2243B5C6D80", "ntag215"))
    chip.execute(bytes([0x32, 0x05, 0x00, 0x01, 0x02]), NOW)  # finite retries
    cascaded = bytes.fromhex("8804A2243B5C6D80")
    assert chip.execute(bytes([0x4A, 0x01, 0x00]) + cascaded, NOW)[:2] == bytes([1, 1])
    other = bytes.fromhex("8804A2243B5C6D81")
    pending = chip.execute(bytes([0x4A, 0x01, 0x00]) + other, NOW)
    assert isinstance(pending, Pending)
    assert chip.resolve_pending(NOW + 1) == (0x4A, bytes([0]))


def test_auto_poll_waits_then_answers_when_a_tag_arrives() -> None:
    chip = PN532Chip()
    assert isinstance(chip.execute(bytes([0x60, 0x01, 0x01, 0x20, 0x10]), NOW), Pending)
    assert chip.resolve_pending(NOW + 0.1) is None
    chip.present(Tag("04A2243B", "classic_1k"))
    command, reply = chip.resolve_pending(NOW + 0.1)
    assert command == 0x60
    assert reply == bytes.fromhex("01 10 09 01 0004 08 04 04a2243b")


def test_auto_poll_gives_up_after_its_period() -> None:
    chip = PN532Chip()
    chip.execute(bytes([0x60, 0x01, 0x01, 0x20, 0x10]), NOW)  # 1 poll x 150 ms x 2 types
    assert chip.pending_timeout(NOW) == pytest.approx(0.3)
    assert chip.resolve_pending(NOW + 0.31) == (0x60, bytes([0]))


def test_ack_from_host_aborts_a_poll() -> None:
    chip = PN532Chip()
    chip.execute(bytes([0x60, 0xFF, 0x01, 0x10]), NOW)
    chip.abort()
    chip.present(Tag("04A2243B", "classic_1k"))
    assert chip.resolve_pending(NOW + 10) is None


def test_ultralight_c_probe_fails_and_get_version_names_ntag() -> None:
    chip = PN532Chip()
    chip.present(Tag("04A2243B5C6D80", "ntag215"))
    chip.execute(bytes([0x4A, 0x01, 0x00]), NOW)
    assert chip.execute(bytes([0x42, 0x1A, 0x00]), NOW) == bytes([0x01])
    assert chip.execute(bytes([0x40, 0x01, 0x60]), NOW) == bytes.fromhex("00 0004040201001103")


def test_read_page_zero_starts_with_the_uid() -> None:
    chip = PN532Chip()
    chip.present(Tag("04A2243B5C6D80", "ultralight"))
    chip.execute(bytes([0x4A, 0x01, 0x00]), NOW)
    reply = chip.execute(bytes([0x40, 0x01, 0x30, 0x00]), NOW)
    assert reply[0] == 0x00 and reply[1:4] == bytes.fromhex("04A224") and len(reply) == 17


def test_removed_tag_times_out() -> None:
    chip = PN532Chip()
    chip.present(Tag("04A2243B5C6D80", "ntag215"))
    chip.execute(bytes([0x4A, 0x01, 0x00]), NOW)
    chip.remove()
    assert chip.execute(bytes([0x40, 0x01, 0x30, 0x00]), NOW) == bytes([0x01])


def test_unknown_command_is_refused() -> None:
    assert PN532Chip().execute(bytes([0x7E, 0x01]), NOW) is None


@pytest.mark.parametrize("uid, tag_type", [("04A2243B5C6D80", "classic_9k"), ("04A2", "classic_1k"),
                                           ("11A2243B5C6D80", "ntag215"), ("zz", "classic_1k")])
def test_bad_tags_are_refused(uid: str, tag_type: str) -> None:
    with pytest.raises(ValueError):
        Tag(uid, tag_type)


@settings(max_examples=300, deadline=None)
@given(tag=st.sampled_from([None, ("04A2243B", "classic_1k"), ("04A2243B5C6D80", "ntag215"),
                            ("04112233445566", "desfire")]),
       commands=st.lists(st.binary(min_size=0, max_size=20), max_size=8))
def test_any_command_sequence_is_safe_for_libnfc(tag: tuple[str, str] | None, commands: list[bytes]) -> None:
    """No exception, and never a status byte with NAD (0x80) or MI (0x40): libnfc aborts on those."""
    chip = PN532Chip()
    if tag:
        chip.present(Tag(*tag))
    for command in commands:
        reply = chip.execute(command, NOW)
        if isinstance(reply, bytes) and command and command[0] in STATUS_COMMANDS and reply:
            assert reply[0] & 0xC0 == 0


def test_simulator_answers_over_the_pty(sim: PN532Simulator) -> None:
    import os
    import select

    fd = os.open(sim.link, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, bytes([0x55, 0x55, 0, 0, 0]) + encode_frame(0xD4, b"\x02"))
        received = b""
        while len(received) < len(ACK_FRAME) + 13:
            assert select.select([fd], [], [], 5)[0], "no reply"
            received += os.read(fd, 64)
    finally:
        os.close(fd)
    assert received.startswith(ACK_FRAME)
    frame, _ = decode_frame(received[len(ACK_FRAME):])
    assert frame is not None and frame.payload == bytes([0x03, 0x32, 0x01, 0x06, 0x07])


def test_control_api_over_the_socket(sim: PN532Simulator, tmp_path: Path) -> None:
    server = ControlServer(sim, tmp_path / "ctl.sock").start()
    try:
        with ControlClient(tmp_path / "ctl.sock") as client:
            client.present("04a2243b5c6d80", "ntag215")
            assert client.status()["tag"] == {"uid": "04A2243B5C6D80", "type": "ntag215"}
            client.remove()
            assert client.status()["tag"] is None
            with pytest.raises(ControlError, match="unknown tag type"):
                client.present("04A2243B", "felica")
            with pytest.raises(ControlError, match="unknown cmd"):
                client.request({"cmd": "explode"})
        with socket.socket(socket.AF_UNIX) as raw:  # a garbage line does not kill the server
            raw.connect(str(tmp_path / "ctl.sock"))
            raw.sendall(b"not json\n")
            assert json.loads(raw.makefile().readline()) == {"ok": False, "error": "not JSON"}
    finally:
        server.stop()
