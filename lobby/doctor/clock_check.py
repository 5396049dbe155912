"""The clock: a Pi has no battery clock, so the time is right only once NTP has synchronised it.

With `[time] ntp_servers` set (a site that blocks public NTP), each of them is asked the time
with one SNTP query (RFC 4330, UDP port 123) and a short timeout, so a wrong address or a
firewall is found at install, not as an alert an hour later.
"""

from __future__ import annotations

import datetime as dt
import socket
import struct
import time

from lobby.config import Config
from mqtt_bridge.timebase import clock_synchronised
from lobby.doctor.base import Check, Context, Result, fail, ok

NAME = "clock"
_EARLIEST = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)  # older than the software: surely wrong


NTP_PORT = 123
NTP_TIMEOUT_S = 2.0
_NTP_EPOCH = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)


def checks(cfg: Config) -> list[Check]:
    found = [Check(NAME, run, timeout_s=2.0)]
    servers = list(getattr(getattr(cfg, "time", None), "ntp_servers", None) or [])
    if servers:
        found.append(Check(f"{NAME} ntp", run_ntp, timeout_s=NTP_TIMEOUT_S * len(servers) + 1.0,
                           timeout_message="The time servers in [time] ntp_servers did not all answer in time.",
                           timeout_fix="Check that they run and that this network lets UDP port 123 reach them."))
    return found


class NtpError(Exception):
    """The server did not answer, or answered something that is not a usable time."""


def sntp_offset(host: str, port: int | None = None, timeout_s: float = NTP_TIMEOUT_S) -> tuple[float, int]:
    """One SNTP client query: (the server's time minus ours in seconds, its stratum)."""
    port = NTP_PORT if port is None else port
    request = bytearray(48)
    request[0] = (4 << 3) | 3  # version 4, mode 3 (client)
    sent = time.time()
    request[40:48] = struct.pack("!II", int(sent) + _NTP_EPOCH, int((sent % 1) * 2**32))  # transmit time
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise NtpError(f"the name {host} cannot be found ({exc.strerror or exc})") from exc
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.sendto(bytes(request), address)
            deadline = time.monotonic() + timeout_s
            while True:
                reply, source = sock.recvfrom(512)
                if len(reply) >= 48 and reply[24:32] == bytes(request[40:48]):
                    break  # the answer to our query (its originate time is our transmit time)
                sock.settimeout(max(0.01, deadline - time.monotonic()))
        except TimeoutError as exc:
            raise NtpError(f"no answer within {timeout_s:.0f} s") from exc
        except OSError as exc:
            raise NtpError(exc.strerror or str(exc)) from exc
    received = time.time()
    mode, stratum = reply[0] & 0x7, reply[1]
    if mode != 4 or not 1 <= stratum <= 15:
        raise NtpError(f"it answered, but not with a usable time (mode {mode}, stratum {stratum}: "
                       "not synchronised itself, or refusing)")
    secs, frac = struct.unpack("!II", reply[40:48])
    transmit = secs - _NTP_EPOCH + frac / 2**32
    return transmit - (sent + received) / 2, stratum


def run_ntp(ctx: Context) -> list[Result]:
    results: list[Result] = []
    for host in ctx.cfg.time.ntp_servers:
        name = f"{NAME} ntp {host}"
        try:
            offset, stratum = sntp_offset(host)
        except NtpError as exc:
            results.append(fail(name, f"The time server {host} ([time] ntp_servers) does not answer NTP: {exc}.",
                                f"Check the address with the site's IT, that the server runs NTP, and that this "
                                f"network lets UDP port 123 from the Pi reach {host}. Then run install.sh again if "
                                "you changed [time] ntp_servers."))
            continue
        results.append(ok(name, f"The time server {host} answers (stratum {stratum}; this clock is "
                                f"{-offset:+.1f} s from it).", offset_s=round(offset, 3), stratum=stratum))
    return results


def run(ctx: Context) -> list[Result]:
    now = dt.datetime.now(dt.timezone.utc)
    if now < _EARLIEST:
        return [fail(NAME, f"The clock says {now:%Y-%m-%d %H:%M} UTC, which cannot be right.",
                     "Give the Pi network access to a time server (NTP, UDP port 123) and check "
                     "`timedatectl status`; records made meanwhile are flagged and repaired later.")]
    if not clock_synchronised():
        return [fail(NAME, "The clock is not synchronised with a time server: records are saved but flagged "
                           "\"clock not synced\", and times may be off.",
                     "Check `timedatectl status` (\"System clock synchronized: yes\" is wanted), that "
                     "systemd-timesyncd runs, and that the network lets NTP (UDP 123) out; on a closed network "
                     "set [time] ntp_servers in the config to the site's time server and run install.sh again "
                     "(it writes NTP= for systemd-timesyncd).")]
    return [ok(NAME, f"The clock is synchronised ({now:%Y-%m-%d %H:%M} UTC).")]
