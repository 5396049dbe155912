"""A small, typed layer over libnfc, through pynfc's ctypes bindings.

pynfc (`pynfc.nfc`) loads libfreefare.so, which brings the libnfc symbols, and
describes libnfc's structures. We take fresh function objects from that same
library (`lib[name]`) and give them correct argtypes here, so pynfc's module-level
functions are left as they are: pynfc declares nfc_open's connstring as a
1024-byte array passed by value, which is wrong for a `const char *` argument.

We never use pynfc's `Nfc.poll()` or its `Timeout` wrapper. Every call below is
made from the one reader thread; only `abort()` is meant for another thread
(libnfc implements it with a pipe the blocked call is waiting on).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from pynfc import nfc as _pynfc

_lib = _pynfc._libraries["libfreefare.so"]

NFC_SUCCESS = 0
NFC_EIO = -1
NFC_EINVARG = -2
NFC_EDEVNOTSUPP = -3
NFC_ENOTSUCHDEV = -4
NFC_EOVFLOW = -5
NFC_ETIMEOUT = -6
NFC_EOPABORTED = -7
NFC_ENOTIMPL = -8
NFC_ETGRELEASED = -10
NFC_ERFTRANS = -20
NFC_EMFCAUTHFAIL = -30
NFC_ESOFT = -80
NFC_ECHIP = -90

# The answers that mean "the tag is not (or no longer) there", not "the reader failed".
TAG_GONE_CODES = frozenset({NFC_ETGRELEASED, NFC_ERFTRANS, NFC_EMFCAUTHFAIL})

NP_INFINITE_SELECT = _pynfc.NP_INFINITE_SELECT
NMT_ISO14443A, NBR_106 = _pynfc.NMT_ISO14443A, _pynfc.NBR_106

_Device = ctypes.POINTER(_pynfc.struct_nfc_device)
_Context = ctypes.POINTER(_pynfc.struct_nfc_context)
_Target = _pynfc.nfc_target
_Modulation = _pynfc.nfc_modulation
_Bytes = ctypes.POINTER(ctypes.c_ubyte)


def _fn(name: str, restype: Any, argtypes: list[Any]) -> Any:
    func = _lib[name]  # a new function object, independent of pynfc's
    func.restype, func.argtypes = restype, argtypes
    return func


_nfc_init = _fn("nfc_init", None, [ctypes.POINTER(_Context)])
_nfc_exit = _fn("nfc_exit", None, [_Context])
_nfc_open = _fn("nfc_open", _Device, [_Context, ctypes.c_char_p])
_nfc_close = _fn("nfc_close", None, [_Device])
_nfc_abort_command = _fn("nfc_abort_command", ctypes.c_int, [_Device])
_nfc_strerror = _fn("nfc_strerror", ctypes.c_char_p, [_Device])
_nfc_device_get_last_error = _fn("nfc_device_get_last_error", ctypes.c_int, [_Device])
_nfc_initiator_init = _fn("nfc_initiator_init", ctypes.c_int, [_Device])
_nfc_set_property_bool = _fn("nfc_device_set_property_bool", ctypes.c_int,
                             [_Device, ctypes.c_int, ctypes.c_bool])
_nfc_poll_target = _fn("nfc_initiator_poll_target", ctypes.c_int,
                       [_Device, ctypes.POINTER(_Modulation), ctypes.c_size_t, ctypes.c_uint8,
                        ctypes.c_uint8, ctypes.POINTER(_Target)])
_nfc_select_passive = _fn("nfc_initiator_select_passive_target", ctypes.c_int,
                          [_Device, _Modulation, _Bytes, ctypes.c_size_t, ctypes.POINTER(_Target)])
_nfc_target_is_present = _fn("nfc_initiator_target_is_present", ctypes.c_int,
                             [_Device, ctypes.POINTER(_Target)])
_nfc_transceive_bytes = _fn("nfc_initiator_transceive_bytes", ctypes.c_int,
                            [_Device, _Bytes, ctypes.c_size_t, _Bytes, ctypes.c_size_t, ctypes.c_int])


class NfcError(Exception):
    """A libnfc call failed; `code` is libnfc's NFC_E* value."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code

    @property
    def tag_gone(self) -> bool:
        return self.code in TAG_GONE_CODES


@dataclass(frozen=True)
class TargetInfo:
    """An ISO 14443A target as anticollision reported it."""

    uid: bytes
    atqa: int
    sak: int
    ats: bytes


class Context:
    """One libnfc context (nfc_init ... nfc_exit)."""

    def __init__(self) -> None:
        self._ctx = _Context()
        _nfc_init(ctypes.byref(self._ctx))
        if not self._ctx:
            raise NfcError(NFC_ESOFT, "nfc_init failed")

    def open(self, connstring: str) -> "Device":
        pointer = _nfc_open(self._ctx, connstring.encode())
        if not pointer:
            raise NfcError(NFC_EIO, f"cannot open {connstring}")
        return Device(pointer)

    def close(self) -> None:
        if self._ctx:
            _nfc_exit(self._ctx)
            self._ctx = _Context()


class Device:
    """An open libnfc device, in initiator (reader) mode."""

    def __init__(self, pointer: ctypes._Pointer) -> None:
        self._dev = pointer
        self._modulation = _Modulation(NMT_ISO14443A, NBR_106)

    def _check(self, result: int, what: str) -> int:
        if result < 0:
            text = (_nfc_strerror(self._dev) or b"").decode(errors="replace")
            raise NfcError(result, f"{what}: {text}")
        return result

    def initiator_init(self) -> None:
        self._check(_nfc_initiator_init(self._dev), "nfc_initiator_init")
        # Bounded passive activation, so re-selecting a tag that left returns at once.
        self._check(_nfc_set_property_bool(self._dev, NP_INFINITE_SELECT, False), "set_property")

    def poll(self, poll_nr: int, period: int) -> TargetInfo | None:
        """One bounded hardware poll for an ISO 14443A tag (poll_nr * period * 150 ms
        per target type on a PN532). Returns None if no tag came."""
        target = _Target()
        found = self._check(_nfc_poll_target(self._dev, ctypes.byref(self._modulation), 1,
                                             poll_nr, period, ctypes.byref(target)),
                            "nfc_initiator_poll_target")
        return _target_info(target) if found > 0 else None

    def select(self, uid: bytes) -> TargetInfo | None:
        """Select the tag with this UID again; None if it is not in the field."""
        target = _Target()
        buffer = (ctypes.c_ubyte * len(uid)).from_buffer_copy(uid)
        found = self._check(_nfc_select_passive(self._dev, self._modulation, buffer, len(uid),
                                                ctypes.byref(target)),
                            "nfc_initiator_select_passive_target")
        return _target_info(target) if found > 0 else None

    def target_is_present(self) -> bool:
        """Ping the currently selected tag. False when it has gone; NfcError when
        the reader itself failed or cannot ping this kind of tag (EDEVNOTSUPP)."""
        result = _nfc_target_is_present(self._dev, None)
        if result in TAG_GONE_CODES:
            return False
        self._check(result, "nfc_initiator_target_is_present")
        return True

    def transceive(self, command: bytes, max_reply: int = 64, timeout_ms: int = 100) -> bytes:
        tx = (ctypes.c_ubyte * len(command)).from_buffer_copy(command)
        rx = (ctypes.c_ubyte * max_reply)()
        count = self._check(_nfc_transceive_bytes(self._dev, tx, len(command), rx, max_reply,
                                                  timeout_ms),
                            "nfc_initiator_transceive_bytes")
        return bytes(rx[:count])

    def abort(self) -> None:
        """Make a blocked call on another thread return (libnfc's abort pipe)."""
        _nfc_abort_command(self._dev)

    def close(self) -> None:
        if self._dev:
            _nfc_close(self._dev)
            self._dev = _Device()


def _target_info(target: _pynfc.nfc_target) -> TargetInfo:
    nai = target.nti.nai
    uid_len = min(int(nai.szUidLen), 10)
    ats_len = min(int(nai.szAtsLen), 254)
    return TargetInfo(uid=bytes(nai.abtUid[:uid_len]), atqa=(nai.abtAtqa[0] << 8) | nai.abtAtqa[1],
                      sak=nai.btSak, ats=bytes(nai.abtAts[:ats_len]))
