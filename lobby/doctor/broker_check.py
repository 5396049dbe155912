"""The central broker: reachable, trusted (TLS), and our login accepted.

A real paho connection built by mqtt_bridge.mqtt_client.build_client, so it uses
exactly the gateway's TLS context, certificates and password file, but with its own
client id (a second session with the gateway's id would push the running gateway
off the broker) and without the last will (its "offline" must never be published
on the gateway's status topic). Nothing is published.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import time

from lobby.config import Config
from lobby.doctor.base import Check, Context, Result, fail, ok, warn

NAME = "broker"
CONNECT_S = 4.0  # TCP connect, then the TLS handshake, then the CONNACK: each at most this


def checks(cfg: Config) -> list[Check]:
    where = f"{cfg.mqtt.host}:{cfg.mqtt.port}"
    return [Check(NAME, run, timeout_s=3 * CONNECT_S,
                  timeout_message=f"No answer from the broker at {where} within {3 * CONNECT_S:.0f} s.",
                  timeout_fix="A firewall may drop the traffic, or the address is wrong: check [mqtt] host and "
                              f"port, and that this network lets TCP port {cfg.mqtt.port} out.")]


def run(ctx: Context) -> list[Result]:
    cfg = ctx.cfg
    m = cfg.mqtt
    where = f"{m.host}:{m.port}"
    tls = m.tls.enabled
    for key, path in (("ca_file", m.tls.ca_file), ("cert_file", m.tls.cert_file), ("key_file", m.tls.key_file)):
        if tls and path and not os.path.isfile(path):
            return [fail(NAME, f"The file {path} named in [mqtt.tls] {key} does not exist.",
                         f"Copy it to the Pi (sudo install -m 0640 -o root -g lobby FILE {path}) or fix the path.")]
    if m.password_file:
        if not os.path.isfile(m.password_file):
            return [fail(NAME, f"The password file {m.password_file} ([mqtt] password_file) does not exist.",
                         f"Put the gateway's broker password into it: sudo install -m 0640 -o root -g lobby "
                         f"PASSWORD_FILE {m.password_file} (see systemd/mosquitto/add-gateway-login.sh).")]
        if not os.access(m.password_file, os.R_OK):
            return [fail(NAME, f"This user may not read the password file {m.password_file}.",
                         "Run `lobby doctor` as root or as the lobby user (sudo -u lobby lobby doctor).")]

    from mqtt_bridge.mqtt_client import build_client
    from mqtt_bridge.publisher import topics_for

    try:
        client = build_client(cfg.bridge, topics_for(cfg.bridge), client_id=f"{cfg.client_id}-doctor-{os.getpid()}")
    except ssl.SSLError as exc:
        return [fail(NAME, f"The TLS files in [mqtt.tls] cannot be loaded: {exc}.",
                     "ca_file must be the CA certificate (PEM); cert_file and key_file must belong together.")]
    except OSError as exc:
        return [fail(NAME, f"A file for the broker connection cannot be read: {exc}.",
                     "Check the paths in [mqtt] and [mqtt.tls] and that this user may read them.")]
    client.will_clear()
    client.connect_timeout = CONNECT_S
    answer: dict[str, object] = {}
    client.on_connect = lambda c, u, flags, reason, props: answer.update(reason=reason)
    login = f" as {m.username}" if m.username else " without a login"
    how = f"MQTT {m.protocol}{', TLS' if tls else ''}"
    try:
        # keepalive also bounds paho's TLS handshake (it sets the socket timeout to it)
        client.connect(m.host, m.port, keepalive=int(CONNECT_S))
    except Exception as exc:  # noqa: BLE001 - every failure is explained below
        return [_explain(exc, cfg)]
    try:
        deadline = time.monotonic() + CONNECT_S
        while "reason" not in answer and time.monotonic() < deadline:
            rc = client.loop(timeout=0.1)
            if rc != 0 and "reason" not in answer:
                break
        reason = answer.get("reason")
        if reason is None:
            return [fail(NAME, f"The broker at {where} accepted the connection but never answered the login "
                               "(it closed the connection or stayed silent).",
                         "Is it an MQTT broker on that port? With TLS on the broker, [mqtt.tls] enabled must be "
                         "true; a broker that wants a client certificate closes the connection without one.")]
        if getattr(reason, "is_failure", False):
            text = str(reason)
            if any(word in text.lower() for word in ("password", "authori", "not authorised")):
                return [fail(NAME, f"The broker at {where} refused the login{login} ({text}).",
                             "Check [mqtt] username (the gateway id) and the password file against the broker's "
                             "password file (systemd/mosquitto/add-gateway-login.sh makes a new one).")]
            return [fail(NAME, f"The broker at {where} refused the connection{login}: {text}.",
                         "Ask the broker's operator; the broker's log says why.")]
        result = ok(NAME, f"Connected to the broker at {where}{login} ({how}).")
        mismatch = _acl_mismatch(cfg)
        if mismatch:
            return [warn(NAME, f"Connected to the broker at {where}{login}, but {mismatch}",
                         "Keep [mqtt] username equal to [site] gateway_id and base_topic at its default "
                         "lobby/<site_id>/<gateway_id> (the rules in systemd/mosquitto/acl): mosquitto drops the "
                         "connection of a client that publishes where it may not, so the gateway would reconnect "
                         "over and over while its queue grows.")]
        if tls and m.tls.insecure_skip_verify:
            result = warn(NAME, f"Connected to the broker at {where}{login}, but WITHOUT checking its certificate "
                                "(insecure_skip_verify = true): anyone on the path could pose as the broker.",
                          "Set [mqtt.tls] insecure_skip_verify = false and give ca_file.")
        elif not tls:
            result = warn(NAME, f"Connected to the broker at {where}{login}, without TLS: logins and data cross "
                                "the network readable by anyone on the path.",
                          "Use the broker's TLS port (8883) and [mqtt.tls] enabled = true, unless the broker is on "
                          "this Pi (systemd/mosquitto/local-bridge.conf).")
        return [result]
    finally:
        try:
            client.disconnect()
            client.loop(timeout=0.1)
        except Exception:  # the connection may already be gone
            pass


def _acl_mismatch(cfg: Config) -> str:
    """Why the company ACL (login = gateway id, topics lobby/<site>/<login>/...) would refuse us, or ""."""
    m = cfg.mqtt
    if m.username is None:
        return ""
    gateway = cfg.site.gateway_id
    if m.username != gateway:
        return (f"the login {m.username!r} is not the gateway id {gateway!r}: the broker's rules let a gateway "
                "write only under its own id.")
    parts = cfg.base_topic.split("/")
    if len(parts) != 3 or parts[0] != "lobby" or parts[2] != gateway:
        return (f"the base topic {cfg.base_topic!r} is not lobby/<site_id>/{gateway}: the broker's rules let a "
                "gateway write only there.")
    return ""


def _explain(exc: BaseException, cfg: Config) -> Result:
    m = cfg.mqtt
    where = f"{m.host}:{m.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or str(exc)
        if "hostname" in detail.lower() or "ip address mismatch" in detail.lower():
            return fail(NAME, f"The broker at {where} presented a certificate for another name ({detail}).",
                        f"[mqtt] host must be the name in the broker's certificate; ask for its name, or for a "
                        f"certificate that includes {m.host}.")
        return fail(NAME, f"The broker at {where} presented a certificate that cannot be verified against "
                          f"ca_file {m.tls.ca_file} ({detail}): the connection is refused because the broker is "
                          "not trusted.",
                    "Put the CA certificate that signed the broker's certificate into ca_file (ask the broker's "
                    "operator for ca.crt); a certificate that has expired must be renewed on the broker.")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if "certificate required" in str(exc).lower() or "handshake failure" in str(exc).lower():
            return fail(NAME, f"The broker at {where} ended the TLS handshake ({reason}): it probably wants a "
                              "client certificate.",
                        "Give [mqtt.tls] cert_file and key_file (the gateway's certificate from the company CA).")
        if "wrong version number" in str(exc).lower():
            return fail(NAME, f"The broker at {where} does not speak TLS on this port ({reason}).",
                        "Use the broker's TLS port (usually 8883) or set [mqtt.tls] enabled = false for a plain port.")
        return fail(NAME, f"The TLS handshake with the broker at {where} failed: {reason}.",
                    "Check [mqtt.tls] and the broker's TLS settings (TLS 1.2 or newer).")
    if isinstance(exc, ConnectionRefusedError):
        return fail(NAME, f"The broker at {where} refused the connection: nothing listens on that port (the broker "
                          "is down, or the port is wrong).",
                    f"Check [mqtt] host and port; ask whether the broker runs. `nc -vz {m.host} {m.port}` tests it.")
    if isinstance(exc, socket.gaierror):
        return fail(NAME, f"The broker's name {m.host} cannot be found (DNS: {exc.strerror or exc}).",
                    "Check [mqtt] host for typing errors and that the Pi has network and DNS (`ping -c1 " + m.host + "`).")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return fail(NAME, f"No answer from the broker at {where} within {CONNECT_S:.0f} s.",
                    f"A firewall may drop the traffic, or the address is wrong: check [mqtt] host and port, and "
                    f"that this network lets TCP port {m.port} out.")
    if isinstance(exc, FileNotFoundError):
        from mqtt_bridge.mqtt_client import missing_files_message

        return fail(NAME, f"A file for the broker connection is missing: {missing_files_message(cfg.bridge, exc)}.",
                    "Check the paths in [mqtt] and [mqtt.tls].")
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN):
        return fail(NAME, f"The broker at {where} cannot be reached: {exc.strerror}.",
                    "The Pi has no route there: check its network cable or Wi-Fi and `ip route`.")
    if isinstance(exc, OSError):
        return fail(NAME, f"Cannot connect to the broker at {where}: {exc.strerror or exc}.",
                    "Check the Pi's network and [mqtt] host and port.")
    return fail(NAME, f"Cannot connect to the broker at {where}: {type(exc).__name__}: {exc}.",
                "Check [mqtt] and [mqtt.tls].")
