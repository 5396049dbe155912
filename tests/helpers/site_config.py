"""One builder for the TOML the tests and the benches run on: a site header and the common device blocks.

    text = site_toml(tmp_path / "state", broker.port, extra=gpio_panel(repeat_window_s=1))

Each piece is plain TOML text; callers add their own sections through `extra`.
"""

from __future__ import annotations

from pathlib import Path

GUARD_CARD = "7E11AA01"
STAFF_CARD = "5A3B9C01"


def site_toml(state_dir: Path | str, port: int | str = 1883, *, version: int = 1, site_id: str = "tower-a",
              gateway_id: str = "gw-test", name: str = "Test lobby", timezone: str = "Asia/Shanghai",
              keepalive_s: int = 5, reconnect_max_s: float = 2, inflight: int | None = None,
              discovery: bool | str = False, mqtt_extra: str = "", store: str = "", extra: str = "",
              hosts: list[str] | None = None) -> str:
    """The header every config needs ([site], [mqtt] on loopback), then `extra`.

    `hosts` ("host:port" each, a cluster's nodes) replaces the single host and `port`.
    `mqtt_extra` goes inside [mqtt] (e.g. a protocol or a [mqtt.tls] table), `store` right after
    state_dir (top-level keys), `extra` at the end (sections and tables).
    """
    enabled = discovery if isinstance(discovery, str) else str(discovery).lower()
    window = f"inflight = {inflight}\n" if inflight is not None else ""
    broker = (f'host = "127.0.0.1"\nport = {port}' if hosts is None
              else "hosts = [" + ", ".join(f'"{h}"' for h in hosts) + "]")
    return f"""version = {version}
state_dir = "{state_dir}"
{store}
[site]
site_id = "{site_id}"
gateway_id = "{gateway_id}"
name = "{name}"
timezone = "{timezone}"
[mqtt]
{broker}
keepalive_s = {keepalive_s}
{window}reconnect_min_s = 0.2
reconnect_max_s = {reconnect_max_s}
{mqtt_extra}
[mqtt.discovery]
enabled = {enabled}
{extra}
"""


def gpio_panel(*, repeat_window_s: float = 600, stuck_after_s: float | None = None) -> str:
    """Mock GPIO with a buzzer, a cleaning button with its LED and a 'happy' feedback button."""
    stuck = f"stuck_after_s = {stuck_after_s}\n" if stuck_after_s is not None else ""
    return f"""
[gpio]
pin_factory = "mock"
buzzer_pin = 12

[[buttons]]
id = "btn-toilet"
pin = 17
place = "3F 男卫生间 Men's toilet"
meaning = "需要清洁 Needs cleaning"
ticket_kind = "repair"
category = "cleaning"
led_pin = 27
repeat_window_s = {repeat_window_s}
{stuck}
[[buttons]]
id = "face-happy"
pin = 5
place = "大堂 Lobby"
meaning = "满意 Happy"
role = "feedback"
face = "happy"
"""


def staff_cards(*cards: str) -> str:
    return "\n[kiosk]\nstaff_cards = [" + ", ".join(f'"{card}"' for card in cards) + "]\n"
