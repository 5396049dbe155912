"""Frame decoder for installers: ``lobby decode dlt645|cjt188|modbus HEX``.

A frame copied from a serial sniffer is decoded into JSON, or rejected with the
one precise reason (bad checksum: expected XX got YY; truncated: need N bytes,
have M; ...). Modbus RTU frames carry no request/response flag: pymodbus's
request and response PDU tables give the RTU length each form must have for the
function code, and the form whose length (and CRC) fits the bytes is the one
shown; when both fit (e.g. FC 01 with a 3-byte coil reply is as long as a
request) both decodings are returned with ``"form": "ambiguous"``.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Callable, Sequence

from drivers.meters import cjt188, dlt645, modbus_rtu
from drivers.meters.errors import BadCrc, BadLength, FrameError, MalformedFrame, TruncatedFrame

PROTOCOLS = ("dlt645", "cjt188", "modbus")


def parse_hex(text: str) -> bytes:
    """Hex digits, whitespace allowed anywhere, one optional leading 0x."""
    cleaned = "".join(text.split())
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    bad = sorted(set(cleaned) - set(string.hexdigits))
    if bad:
        raise ValueError(f"not hexadecimal: {bad[0]!r}")
    if len(cleaned) % 2:
        raise ValueError(f"odd number of hex digits ({len(cleaned)})")
    return bytes.fromhex(cleaned)


def _whole(parse: Callable[[bytes], tuple[object, int]], data: bytes) -> object:
    frame, size = parse(data)
    if size != len(data):
        raise BadLength(f"the frame is {size} bytes, but {len(data)} bytes were given")
    return frame


def _decode_dlt645(data: bytes) -> dict[str, object]:
    frame = _whole(dlt645.parse_frame, data)
    assert isinstance(frame, dlt645.Frame)
    return dlt645.describe(frame)


def _decode_cjt188(data: bytes) -> dict[str, object]:
    frame = _whole(cjt188.parse_frame, data)
    assert isinstance(frame, cjt188.Frame)
    return cjt188.describe(frame)


def _modbus_form(data: bytes, request: bool) -> modbus_rtu.Frame:
    """Decode ``data`` as exactly one frame of the given form, or raise why it is not."""
    size = modbus_rtu.frame_size(data, request=request)
    form = "request" if request else "response"
    if size > len(data):
        raise TruncatedFrame(size, len(data))
    if size < len(data):
        raise BadLength(f"a function {data[1]:02X} {form} is {size} bytes, but {len(data)} bytes were given")
    frame, _ = modbus_rtu.parse_request(data) if request else modbus_rtu.parse_response(data)
    return frame


def _decode_modbus(data: bytes) -> dict[str, object]:
    if len(data) < modbus_rtu.MIN_FRAME:
        raise TruncatedFrame(modbus_rtu.MIN_FRAME, len(data))
    decoded: dict[str, modbus_rtu.Frame] = {}
    errors: list[FrameError] = []
    for form, request in (("request", True), ("response", False)):
        try:
            decoded[form] = _modbus_form(data, request)
        except FrameError as exc:
            errors.append(exc)
    if len(decoded) == 2:
        return {"protocol": "modbus", "form": "ambiguous",
                "as_request": modbus_rtu.describe(decoded["request"]),
                "as_response": modbus_rtu.describe(decoded["response"])}
    if decoded:
        return modbus_rtu.describe(next(iter(decoded.values())))
    raise _most_telling(errors)


def _most_telling(errors: list[FrameError]) -> FrameError:
    """Of the two forms' errors, the one an installer should see."""
    for kind in (BadCrc, TruncatedFrame, BadLength, MalformedFrame):
        for exc in errors:
            if isinstance(exc, kind):
                return exc
    return errors[0]


_DECODERS: dict[str, Callable[[bytes], dict[str, object]]] = {
    "dlt645": _decode_dlt645,
    "cjt188": _decode_cjt188,
    "modbus": _decode_modbus,
}


def decode_frame(protocol: str, data: bytes) -> dict[str, object]:
    """Decode one complete frame; raises a FrameError subclass saying precisely what is wrong."""
    try:
        decoder = _DECODERS[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}") from None
    result = decoder(bytes(data))
    result["frame_hex"] = bytes(data).hex(" ").upper()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``decode PROTOCOL HEX...``: print JSON and return 0, or print the error and return 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "decode":
        args = args[1:]
    parser = argparse.ArgumentParser(
        prog="lobby decode", description="Decode one meter-bus frame copied from a serial sniffer.")
    parser.add_argument("protocol", choices=PROTOCOLS)
    parser.add_argument("hex", nargs="+", help="the frame in hex; spaces between bytes are fine")
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # argparse already printed the usage error
        return 2 if exc.code else 0
    try:
        data = parse_hex(" ".join(ns.hex))
        result = decode_frame(ns.protocol, data)
    except (FrameError, ValueError) as exc:
        print(f"{ns.protocol}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
