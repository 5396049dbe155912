"""The staff settings PIN: scrypt hashes (`lobby pin-hash`) and the wrong-PIN lockout.

Hash format (config `security.staff_pin_hash`): ``scrypt$<salt: 16 bytes hex>$<key: 32 bytes hex>``
with n = 2**14, r = 8, p = 1. The lockout counts wrong PINs on the monotonic clock
(a wall-clock step neither unlocks nor extends it); a restart forgets it, which is
acceptable because a restart takes longer than a typical lockout and keeps guesses
out of the store.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

N, R, P, DKLEN = 2 ** 14, 8, 1, 32
PIN_RE = re.compile(r"^[0-9]{4,12}\Z")
HASH_RE = re.compile(r"^scrypt\$([0-9a-f]{32})\$([0-9a-f]{64})\Z")


def valid_pin(pin: str) -> bool:
    return bool(PIN_RE.match(pin))


def _derive(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=N, r=R, p=P, dklen=DKLEN, maxmem=64 * 1024 * 1024)


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = salt if salt is not None else secrets.token_bytes(16)
    return f"scrypt${salt.hex()}${_derive(pin, salt).hex()}"


def verify_pin(pin: str, stored: str | None) -> bool:
    if not stored or not isinstance(pin, str) or not valid_pin(pin):
        return False
    match = HASH_RE.match(stored)
    if match is None:
        return False
    return hmac.compare_digest(_derive(pin, bytes.fromhex(match[1])), bytes.fromhex(match[2]))


@dataclass(frozen=True)
class PinResult:
    ok: bool
    status: str  # ok, wrong, locked, unset
    attempts_left: int = 0
    locked_min: int = 0


class PinGate:
    """`check(pin)`: ok, or wrong (attempts left), or locked (minutes left)."""

    def __init__(self, stored_hash: str | None, max_attempts: int, lockout_min: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.stored = stored_hash
        self.max_attempts = max_attempts
        self.lockout_s = lockout_min * 60
        self._now = monotonic
        self._lock = threading.Lock()
        self._wrong = 0
        self._locked_until: float | None = None

    def locked_minutes(self) -> int:
        with self._lock:
            return self._locked_locked()

    def _locked_locked(self) -> int:
        if self._locked_until is None:
            return 0
        left = self._locked_until - self._now()
        if left <= 0:
            self._locked_until = None
            return 0
        return max(1, math.ceil(left / 60))

    def check(self, pin: str) -> PinResult:
        if not self.stored:
            return PinResult(False, "unset")
        with self._lock:
            locked = self._locked_locked()
            if locked:
                return PinResult(False, "locked", 0, locked)
        ok = verify_pin(pin, self.stored)  # slow (scrypt): outside the lock
        with self._lock:
            if ok:
                self._wrong = 0
                return PinResult(True, "ok", self.max_attempts)
            self._wrong += 1
            if self._wrong >= self.max_attempts:
                self._wrong = 0
                self._locked_until = self._now() + self.lockout_s
                return PinResult(False, "locked", 0, self._locked_locked())
            return PinResult(False, "wrong", self.max_attempts - self._wrong)
