"""Serial line settings and the wire-time arithmetic every timing decision uses."""

from __future__ import annotations

from dataclasses import dataclass

PARITIES = {"N": "none", "E": "even", "O": "odd"}


@dataclass(frozen=True)
class SerialSettings:
    """One RS-485 line: every device on a bus shares these."""

    baudrate: int = 2400
    bytesize: int = 8
    parity: str = "E"  # "N", "E" or "O" (pyserial's letters)
    stopbits: int = 1

    def __post_init__(self) -> None:
        if self.baudrate <= 0:
            raise ValueError(f"baudrate must be positive, got {self.baudrate}")
        if self.bytesize not in (7, 8):
            raise ValueError(f"bytesize must be 7 or 8, got {self.bytesize}")
        if self.parity not in PARITIES:
            raise ValueError(f"parity must be one of N, E, O; got {self.parity!r}")
        if self.stopbits not in (1, 2):
            raise ValueError(f"stopbits must be 1 or 2, got {self.stopbits}")

    @classmethod
    def parse(cls, text: str) -> SerialSettings:
        """Parse the usual notation, e.g. ``"2400 8E1"`` or ``"9600-8N1"``."""
        baud, _, frame = text.replace("-", " ").replace(",", " ").partition(" ")
        frame = frame.strip().upper() or "8N1"
        if len(frame) != 3:
            raise ValueError(f"expected e.g. '2400 8E1', got {text!r}")
        return cls(int(baud), int(frame[0]), frame[1], int(frame[2]))

    @property
    def bits_per_char(self) -> int:
        """Start bit + data bits + parity bit + stop bits (11 for 8E1, 10 for 8N1)."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    @property
    def char_time(self) -> float:
        return self.bits_per_char / self.baudrate

    def wire_time(self, nbytes: int) -> float:
        """Seconds the line is busy sending ``nbytes``."""
        return nbytes * self.char_time

    @property
    def modbus_t35(self) -> float:
        """Modbus RTU inter-frame silence: 3.5 characters, fixed 1.75 ms above 19200 baud."""
        if self.baudrate > 19200:
            return 0.00175
        return 3.5 * self.char_time

    def pyserial_kwargs(self) -> dict[str, object]:
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
        }

    def __str__(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"
