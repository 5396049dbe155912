"""Building a paho-mqtt 2.x client from the bridge's settings.

A new client is built for every connection attempt: certificates and the
password file are read afresh (so a renewed certificate is picked up on the next
reconnect), and no message state from a dead session leaks into the next one —
the outbox, not paho, owns retransmission.
"""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_bridge.settings import BridgeSettings, Endpoint, read_secret
from mqtt_bridge.timebase import BOOT_ID, Stamp
from mqtt_bridge.topics import Topics
from mqtt_bridge.version import VERSION


@dataclass(frozen=True)
class ConnectTarget:
    host: str
    port: int
    keepalive: int


def status_payload(state: str, broker: str | None = None) -> bytes:
    """The retained status; `broker` names the node the connection is to (the will's says
    which connection's end it announces)."""
    doc = {"state": state, "ts": Stamp.now().ts, "version": VERSION, "boot_id": BOOT_ID}
    if broker is not None:
        doc["broker"] = broker
    return json.dumps(doc, separators=(",", ":")).encode()


def tls_context(cfg: BridgeSettings) -> ssl.SSLContext | None:
    tls = cfg.mqtt.tls
    if not tls.enabled:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert_file and tls.key_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_client(cfg: BridgeSettings, topics: Topics, client_id: str | None = None,
                 broker: str | None = None) -> mqtt.Client:
    """A configured client with the offline will set (naming `broker`, the node it will connect
    to); callbacks are attached by the caller."""
    v5 = cfg.mqtt.protocol == "5"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id or cfg.client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else True,
    )
    if logging.getLogger("paho").isEnabledFor(logging.DEBUG):
        client.enable_logger()  # per-packet log lines cost time on every message: debug only
    username = cfg.mqtt.username
    password = read_secret(cfg.mqtt.password, cfg.mqtt.password_file)
    if username is not None:
        client.username_pw_set(username, password)
    context = tls_context(cfg)
    if context is not None:
        client.tls_set_context(context)
        if cfg.mqtt.tls.insecure_skip_verify:
            client.tls_insecure_set(True)
    client.will_set(topics.status, status_payload("offline", broker), qos=1, retain=True)
    client.max_inflight_messages_set(max(cfg.mqtt.inflight * 2, 40) + 20)  # our window is the real limit
    client.max_queued_messages_set(0)
    return client


def target(cfg: BridgeSettings) -> ConnectTarget:
    return ConnectTarget(cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.keepalive_s)


def missing_files(cfg: BridgeSettings) -> list[tuple[str, str]]:
    """(key, path) of every TLS or password file the settings name that does not exist."""
    import os

    tls = cfg.mqtt.tls
    named = [("mqtt.password_file", cfg.mqtt.password_file)]
    if tls.enabled:
        named += [("mqtt.tls.ca_file", tls.ca_file), ("mqtt.tls.cert_file", tls.cert_file),
                  ("mqtt.tls.key_file", tls.key_file)]
    return [(key, path) for key, path in named if path and not os.path.exists(path)]


def missing_files_message(cfg: BridgeSettings, exc: FileNotFoundError | None = None) -> str:
    """Which key names the missing file, and its path (ssl's own error carries no file name)."""
    gone = missing_files(cfg)
    if gone:
        return "; ".join(f"{key}: {path} does not exist" for key, path in gone)
    if exc is not None and exc.filename:
        return f"a TLS or password file is missing: {exc.filename} does not exist"
    return "a TLS or password file is missing (check mqtt.tls.ca_file, cert_file, key_file and mqtt.password_file)"


def explain_connect_error(exc: BaseException, cfg: BridgeSettings, endpoint: Endpoint | None = None) -> str:
    """Plain words for the log when a connection attempt fails."""
    where = str(endpoint or cfg.mqtt.endpoints[0])
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS: the broker at {where} presented a certificate that does not verify against "
                f"ca_file={cfg.mqtt.tls.ca_file} ({exc.verify_message}); check the CA file or the broker's certificate")
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or exc}"
    if isinstance(exc, FileNotFoundError):
        return missing_files_message(cfg, exc)
    if isinstance(exc, ConnectionRefusedError):
        return f"the broker at {where} refused the connection (not running, or wrong port?)"
    if isinstance(exc, TimeoutError):
        return f"no answer from the broker at {where} (timed out)"
    if isinstance(exc, OSError):
        return f"cannot reach the broker at {where}: {exc.strerror or exc}"
    return f"cannot connect to {where}: {exc}"
