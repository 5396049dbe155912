"""The configuration as typed objects.

One TOML file describes a gateway. Every section is a strict model: unknown keys,
wrong types and out-of-range values are errors that name the key. Defaults are the
property-management department's own service standards (shared/DOMAIN.md), so a
near-empty file already runs the lobby by the book.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any, Literal

from mqtt_bridge.modelkit import AfterValidator, BeforeValidator, Field, model_validator

from mqtt_bridge.settings import BridgeSettings, DiscoveryConfig, MqttConfig, Section, Text, TlsConfig  # noqa: F401 - re-exported

# --------------------------------------------------------------------------- types

_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?\Z")
_UID_RE = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})\Z")


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            "must be 1-64 characters of lower-case letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return value


def _parse_clock(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", value.strip())
        if match:
            return dt.time(int(match[1]), int(match[2]))
    raise ValueError("must be a time of day written as \"HH:MM\" (24-hour)")


def _parse_month_day(value: Any) -> tuple[int, int]:
    if isinstance(value, str):
        match = re.fullmatch(r"([0-9]{2})-([0-9]{2})", value.strip())
        if match:
            month, day = int(match[1]), int(match[2])
            try:
                dt.date(2024, month, day)  # a leap year, so 02-29 is allowed
            except ValueError:
                pass
            else:
                return (month, day)
    raise ValueError("must be a calendar day written as \"MM-DD\"")


def _normalise_uid(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a card UID written as hex text")
    cleaned = re.sub(r"[\s:-]", "", value).upper()
    if not _UID_RE.match(cleaned):
        raise ValueError("must be a 4, 7 or 10 byte card UID in hex, e.g. \"04A2B3C4D5E6F7\"")
    return cleaned


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        raise ValueError("unknown time zone (use an IANA name such as \"Asia/Shanghai\")")
    return value


Id = Annotated[str, AfterValidator(_check_id)]
ClockTime = Annotated[dt.time, BeforeValidator(_parse_clock)]
MonthDay = Annotated[tuple[int, int], BeforeValidator(_parse_month_day)]
CardUid = Annotated[str, BeforeValidator(_normalise_uid)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
Hours = Annotated[float, Field(gt=0, le=24 * 30)]
Minutes = Annotated[float, Field(gt=0, le=24 * 60)]
Seconds = Annotated[float, Field(gt=0, le=86400)]
Percent = Annotated[float, Field(ge=0, le=100)]


# --------------------------------------------------------------------------- sections


class SiteConfig(Section):
    site_id: Id
    gateway_id: Id
    name: Text = "Lobby"
    timezone: TimeZone = "Asia/Shanghai"
    language: Literal["zh_CN", "en"] = "zh_CN"


class StoreConfig(Section):
    """The SQLite file shared by the kiosk and the gateway."""

    path: str = "lobby.db"  # relative paths are inside state_dir
    busy_timeout_ms: int = Field(5000, ge=100, le=120_000)
    bulk_max_rows: int = Field(1_000_000, ge=100, le=100_000_000)
    bulk_max_mb: int = Field(512, ge=1, le=100_000)
    disk_min_free_mb: int = Field(64, ge=1, le=100_000)  # critical alert below this
    backup_dir: str = "backups"
    backup_keep: int = Field(7, ge=1, le=365)  # copies kept in backup_dir, and on the stick with target "usb"
    # where the nightly backup goes besides backup_dir: "card" (only there), "usb" (a copy on the stick
    # mounted at backup_usb_dir) or "central" (uploaded in chunks on the bulk lane, TLS link)
    backup_target: Literal["card", "usb", "central"] = "card"
    backup_usb_dir: str = "/media/lobby-backup"  # a mount point on another device than state_dir
    command_log_max_rows: int = Field(5000, ge=100, le=1_000_000)  # the command log (answers to retried ids) ...
    command_log_max_mb: float = Field(2, gt=0, le=1000)  # ... is trimmed, oldest first, past either bound


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SecurityConfig(Section):
    """What central may change remotely, decided on site."""

    allow_remote_config: bool = True
    allow_tls_off: bool = False
    # central may move this gateway to another broker: mqtt.host and mqtt.port only (lobby/config/scope.py GRANTS)
    allow_remote_broker: bool = False
    # a pushed config must reach the broker (one PUBACK) within this, or the previous file is put back
    config_probation_s: int = Field(300, ge=5, le=86_400)
    # scrypt hash of the settings-page PIN, made with `lobby pin-hash`
    staff_pin_hash: str | None = Field(None, pattern=r"^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$")
    pin_max_attempts: int = Field(5, ge=1, le=20)
    pin_lockout_min: Minutes = 5


class ServiceLevels(Section):
    """SLA clocks (DOMAIN: complaints, repairs, return visits)."""

    complaint_reply_h: Hours = 2
    invalid_complaint_reply_h: Hours = 2
    urgent_onsite_min: Minutes = 15  # urgent water or power repair
    equipment_fault_onsite_min: Minutes = 15
    ordinary_repair_same_day: bool = True
    same_day_cutoff: ClockTime = dt.time(18, 0)  # repairs reported later get repair_complete_h
    repair_complete_h: Hours = 24
    general_reply_h: Hours = 24  # enquiries, suggestions, praise, incidents: "every matter gets a reply"
    return_visit_working_days: int = Field(2, ge=1, le=30)
    complaint_return_visit_pct: Percent = 100
    greet_visitor_within_s: Seconds = 60
    # China's official calendar comes from the chinesecalendar library (lobby/services/workdays.py);
    # these are central's corrections, which win over it:
    holidays: list[str] = []  # "YYYY-MM-DD" days off (public holidays)
    extra_workdays: list[str] = []  # "YYYY-MM-DD" weekend days worked in lieu (调休)
    calendar_years: list[Annotated[int, Field(ge=2000, le=2100)]] = []  # years beyond the library for which
    #                                            holidays/extra_workdays are the State Council's whole notice
    escalation_interval_min: Minutes = 30  # an overdue clock climbs a level (staff, supervisor, manager,
    #                                        director) each time it is still overdue this much later

    @model_validator(mode="after")
    def _days(self) -> "ServiceLevels":
        for key in ("holidays", "extra_workdays"):
            for index, text in enumerate(getattr(self, key)):
                try:
                    dt.date.fromisoformat(text)
                except ValueError:
                    raise ValueError(f"{key}[{index}] must be a date written as \"YYYY-MM-DD\"") from None
        both = sorted(set(self.holidays) & set(self.extra_workdays))
        if both:
            raise ValueError(f"{both[0]} is in both holidays and extra_workdays; a day is either off or worked")
        return self


class PlacesConfig(Section):
    buildings: list[Text] = ["A"]
    floors: list[Text] = ["B1", "1F", "2F", "3F"]
    areas: list[Text] = [
        "大堂 Lobby", "电梯厅 Lift lobby", "电梯 Lift car", "消防楼梯 Fire stairs",
        "卫生间 Toilet", "走廊 Corridor", "停车场 Car park", "设备房 Plant room",
        "广场 Plaza", "空置单元 Vacant unit",
    ]


class WatchlistEntry(Section):
    """A person whose check-in is held for staff approval (visitors.watchlist)."""

    id: Id
    name: Text | None = None  # matched after the same normalisation as the check-in form
    phone_hmac: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")  # `lobby hash-phone`: HMAC under the site key
    note: str = Field("", max_length=200)  # shown to staff: why (no personal data)

    @model_validator(mode="after")
    def _needs_a_match(self) -> "WatchlistEntry":
        if self.name is None and self.phone_hmac is None:
            raise ValueError("a watch-list entry needs name or phone_hmac")
        return self


class VisitorsConfig(Section):
    pass_valid_until: ClockTime = dt.time(23, 59)  # end of the day by default
    unreturned_pass_alert_at: ClockTime = dt.time(22, 0)
    name_max_len: int = Field(40, ge=2, le=200)
    company_max_len: int = Field(80, ge=2, le=400)
    permit_max_len: int = Field(40, ge=4, le=200)
    max_party_size: int = Field(20, ge=1, le=500)
    invitation_valid_h: Hours = 24
    invitation_early_min: Minutes = 60  # an invited visitor may check in this early
    watchlist_enabled: bool = False
    watchlist: list[WatchlistEntry] = []
    duplicate_window_s: Seconds = 10
    code_max_failures: int = Field(5, ge=1, le=100)  # wrong invitation codes / phone digits within ...
    code_failure_window_min: Minutes = 10  # ... this sliding window before each further try waits ...
    code_delay_max_s: float = Field(30, ge=1, le=60)  # ... a growing delay, at most this (lobby/services/guessing.py)
    max_live_codes: int = Field(50, ge=1, le=500)  # open invitations with a typed code at once (docs/SECURITY.md)
    roll_call_hours: Hours = 24  # visits not signed out for longer stay on the roll call, flagged "over 24 h, verify"


class TicketsConfig(Section):
    categories: list[Text] = [
        "engineering", "security", "cleaning", "greening", "parking", "noise", "developer", "other",
    ]
    equipment_categories: list[Text] = ["engineering"]  # a repair here is an equipment fault (on site in 15 min)
    description_max_len: int = Field(500, ge=10, le=5000)
    contact_name_max_len: int = Field(40, ge=2, le=200)
    number_length: int = Field(6, ge=4, le=12)
    lookup_max_failures: int = Field(5, ge=1, le=100)  # as visitors.code_*: wrong ticket numbers ...
    lookup_failure_window_min: Minutes = 10
    lookup_delay_max_s: float = Field(30, ge=1, le=60)


class FeedbackConfig(Section):
    misuse_max_presses: int = Field(5, ge=1, le=1000)  # more presses than this within the window: flagged
    misuse_window_s: Seconds = 10
    misuse_max_changes: int = Field(3, ge=1, le=1000)  # this many changes of face within the window: flagged
    exclude_flagged: bool = True
    satisfaction_target_pct: Percent = 85
    unhappy_reasons: list[Text] = ["waiting", "attitude", "cleanliness", "repair", "noise", "other"]


class PrivacyConfig(Section):
    visitor_retention_days: int = Field(30, ge=1, le=3650)
    ticket_contact_retention_days: int = Field(180, ge=1, le=3650)
    stats_retention_days: int = Field(1095, ge=30, le=36500)
    mask_phone_in_events: bool = True
    name_in_events: bool = True  # visitor.checked_in carries the visitor's name so the host knows who waits
    purge_at: ClockTime = dt.time(3, 30)
    export_dir: str = "exports"  # `lobby export` default; relative paths are inside state_dir


class ComfortConfig(Section):
    """Indoor comfort limits (DOMAIN: 18-24 °C winter, 22-24 °C summer, 40-60 %RH, 50 dB)."""

    winter_min_c: float = Field(18, ge=-20, le=40)
    winter_max_c: float = Field(24, ge=-20, le=40)
    summer_min_c: float = Field(22, ge=-20, le=40)
    summer_max_c: float = Field(24, ge=-20, le=40)
    winter_from: MonthDay = (11, 15)
    winter_to: MonthDay = (3, 15)
    summer_from: MonthDay = (6, 1)
    summer_to: MonthDay = (9, 30)
    humidity_min_pct: Percent = 40
    humidity_max_pct: Percent = 60
    noise_max_db: float = Field(50, ge=0, le=140)

    @model_validator(mode="after")
    def _ranges(self) -> "ComfortConfig":
        for season in ("winter", "summer"):
            if getattr(self, f"{season}_min_c") > getattr(self, f"{season}_max_c"):
                raise ValueError(f"{season}_min_c must not exceed {season}_max_c")
        if self.humidity_min_pct > self.humidity_max_pct:
            raise ValueError("humidity_min_pct must not exceed humidity_max_pct")
        return self


class KpiConfig(Section):
    """The department's KPIs the lobby measures (DOMAIN: meters and devices, feedback and satisfaction).

    The fee collection rate (about 80 %) is billed and measured by central, not here.
    """

    facility_uptime_target_pct: Percent = 98  # 设施设备完好率: devices in good order / the inventory, per day
    survey_return_target_pct: Percent = 60  # survey.result: share of handed-out surveys returned ...
    survey_return_working_days: int = Field(15, ge=1, le=120)  # ... within this many working days
    survey_handout_pct: Percent = 100  # share of occupied units the survey is handed to

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        """fee_collection_target_pct was read by nothing (fees are central's): accepted, ignored, logged."""
        if isinstance(data, dict) and "fee_collection_target_pct" in data:
            import logging

            logging.getLogger(__name__).warning("kpi.fee_collection_target_pct is no longer used (central measures "
                                                "fee collection); remove it from the config")
            data = {k: v for k, v in data.items() if k != "fee_collection_target_pct"}
        return data


class Shift(Section):
    name: Text
    start: ClockTime
    end: ClockTime


class ShiftsConfig(Section):
    shifts: list[Shift] = [
        Shift(name="早班 Day", start=dt.time(6), end=dt.time(13)),
        Shift(name="中班 Evening", start=dt.time(13), end=dt.time(22)),
        Shift(name="夜班 Night", start=dt.time(22), end=dt.time(6)),
    ]
    handover_early_min: Minutes = 5  # the incoming person arrives this early (the staff screen shows when)

    @model_validator(mode="after")
    def _around_the_clock(self) -> "ShiftsConfig":
        """DOMAIN: a 24-hour duty system; the shifts, if any, leave no hour of the day uncovered."""
        if not self.shifts:
            return self
        covered = [False] * (24 * 60)
        for shift in self.shifts:
            start, end = shift.start.hour * 60 + shift.start.minute, shift.end.hour * 60 + shift.end.minute
            length = (end - start) % (24 * 60) or 24 * 60
            for minute in range(start, start + length):
                covered[minute % (24 * 60)] = True
        if not all(covered):
            day = 24 * 60
            gap = next(m for m in range(day) if not covered[m] and covered[m - 1]) if any(covered) else 0
            raise ValueError(f"the shifts leave {gap // 60:02d}:{gap % 60:02d} uncovered; a 24-hour duty system "
                             f"needs every hour of the day in some shift")
        return self


class AlertsConfig(Section):
    health_interval_s: Seconds = 60
    disk_min_free_pct: Percent = 10
    cpu_temp_max_c: float = Field(80, ge=40, le=120)
    clock_unsynced_max_min: Minutes = 60
    # The clock not synchronised this many minutes after boot (the boot's monotonic age) is an
    # alert at once, not only after clock_unsynced_max_min: a site that blocks NTP is found at install.
    clock_unsynced_boot_min: Minutes = 5
    outbox_oldest_max_min: Minutes = 15
    # The kiosk's heartbeat (every 10 s) older than this, or none, is the alert kiosk.stale;
    # 0: this Pi has no kiosk (a plant-room gateway). At least 15 s, so one late beat is no alert.
    kiosk_stale_after_s: float = Field(60, ge=0, le=86400)

    @model_validator(mode="after")
    def _kiosk_stale_after(self) -> "AlertsConfig":
        if 0 < self.kiosk_stale_after_s < 15:
            raise ValueError("kiosk_stale_after_s is 0 (no kiosk on this Pi) or at least 15 s (the kiosk beats every 10 s)")
        return self


_NTP_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\Z")


def _check_ntp_host(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if len(value) > 253 or not _NTP_HOST_RE.match(value):
        raise ValueError("must be a time server's host name or IP address (no port: NTP is UDP port 123)")
    return value


class TimeConfig(Section):
    """Where the Pi gets its time (it has no clock of its own that runs while it is off)."""

    # The site's own time servers, for networks that block public NTP: install.sh writes them to
    # systemd-timesyncd (NTP=, /etc/systemd/timesyncd.conf.d/lobby-ntp.conf); `lobby doctor` asks
    # each one the time. Empty: Raspberry Pi OS's defaults (and any the DHCP server names).
    ntp_servers: list[Annotated[str, AfterValidator(_check_ntp_host)]] = Field(default_factory=list, max_length=8)


class FloorPlanPoint(Section):
    device: str = Field(min_length=1, max_length=64)  # a meter id, reader id, button id or gateway device id
    x: float = Field(ge=0, le=1)  # on the image: 0 left .. 1 right
    y: float = Field(ge=0, le=1)  # 0 top .. 1 bottom
    label: str = Field("", max_length=24)  # shown beside the dot (default: the device id)


class FloorPlanConfig(Section):
    """The staff screen's floor plan: an image and where each device is on it."""

    image: str = ""  # a PNG or JPEG on this Pi; "": a plain outline
    points: list[FloorPlanPoint] = []


def _check_colour(value: str) -> str:
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
        raise ValueError('must be a colour written "#RRGGBB", e.g. "#0D54A3"')
    return value.upper()


Colour = Annotated[str, AfterValidator(_check_colour)]


class KioskConfig(Section):
    idle_timeout_s: Seconds = 60
    idle_warning_s: float = Field(45, ge=0, le=3600)  # "Still there?" this long before the wipe (0: none)
    screensaver_after_s: Seconds = 300
    dim_from: ClockTime = dt.time(23, 0)
    dim_to: ClockTime = dt.time(6, 0)
    thank_you_s: Seconds = 3
    font_path: str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    fullscreen: bool = True
    # the panel as mounted: turns the picture and the touch input (clockwise, degrees); 90/270 for portrait
    rotation: Literal[0, 90, 180, 270] = 0
    feedback_place: Text = "大堂 Lobby"
    staff_cards: list[CardUid] = []  # local allowlist; central adds more with cards.update
    floor_plan: FloorPlanConfig = FloorPlanConfig()
    brand_color: Colour = "#0D54A3"  # buttons and the header band; darkened on screen until white text reads on it
    logo: str = ""  # a PNG on this Pi shown on the home screen and the screen saver; "": the site's name only


class GpioConfig(Section):
    pin_factory: Literal["auto", "mock", "lgpio", "rpigpio", "pigpio", "native"] = "auto"
    buzzer_pin: int | None = Field(None, ge=0, le=27)
    status_led_pin: int | None = Field(None, ge=0, le=27)


class NfcReaderConfig(Section):
    id: Id
    kind: Literal["libnfc", "hid"] = "libnfc"
    connstring: str | None = None  # libnfc, e.g. "pn532_uart:/dev/lobby-nfc"
    device: str | None = None  # hid: /dev/input/by-id/... or a device name
    retap_window_s: float = Field(1.5, ge=0, le=60)
    host: Literal["kiosk", "gateway"] = "kiosk"
    checkpoint: Id | None = None  # a patrol checkpoint stands at this reader

    @model_validator(mode="after")
    def _target(self) -> "NfcReaderConfig":
        if self.kind == "libnfc" and not self.connstring:
            raise ValueError("a libnfc reader needs connstring, e.g. \"pn532_uart:/dev/lobby-nfc\"")
        if self.kind == "hid" and not self.device:
            raise ValueError("a hid reader needs device, e.g. \"/dev/input/by-id/usb-reader-event-kbd\"")
        return self


class SerialBusConfig(Section):
    """One RS-485 line: one serial port, one set of serial settings; its meters are polled in turn."""

    id: Id
    port: Text  # e.g. "/dev/lobby-rs485" (udev name); the simulator points it at a pty
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 2400
    parity: Literal["N", "E", "O"] = "E"  # DL/T 645 and CJ/T 188 lines run 8E1
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    timeout_ms: int = Field(500, ge=10, le=10_000)  # a meter's reply must start within this (meters may override)
    retries: int = Field(1, ge=0, le=10)  # further attempts after a failed request (meters may override)
    frame_gap_ms: int = Field(20, ge=0, le=1000)  # DL/T 645 / CJ/T 188 silence between frames (Modbus: 3.5 chars)
    lost_retry_s: float = Field(5, gt=0, le=3600)  # a meter that stopped answering is retried after this ...
    lost_retry_max_s: float = Field(300, gt=0, le=86400)  # ... doubling up to this, so it costs the line little

    @model_validator(mode="after")
    def _retry(self) -> "SerialBusConfig":
        if self.lost_retry_max_s < self.lost_retry_s:
            raise ValueError("lost_retry_max_s must not be less than lost_retry_s")
        return self


class MeterConfig(Section):
    """One meter on a bus. Points use the canonical names of drivers/meters/points.py."""

    id: Id
    bus: Id
    protocol: Literal["modbus", "dlt645", "cjt188"]
    address: str = Field(min_length=1, max_length=14)  # modbus unit id, or BCD digits (zero-padded)
    kind: Literal["electricity", "water", "heat", "environment"] | None = None  # default: from protocol and points
    map: str | None = None  # modbus register map: "eastron_sdm120", "eastron_sdm630", "xy_md02" (or "sdm120",
    #                         "sdm630", "th_sensor"), or a .toml/.json file
    points: list[Text] = []  # canonical points to read; empty: the protocol's / map's defaults
    interval_s: float = Field(60, ge=1, le=86400)
    timeout_ms: int | None = Field(None, ge=10, le=10_000)  # default: the bus's
    retries: int | None = Field(None, ge=0, le=10)  # default: the bus's
    water_type: Literal["cold", "hot", "drinking", "reclaimed"] = "cold"  # CJ/T 188 meter type 10h..13h
    offline_after_failures: int = Field(3, ge=1, le=100)  # polls without any good value, then meter.offline
    max_jump_per_h: float | None = Field(None, gt=0)  # implausible rise of a cumulative register (unit per hour)
    billing_point: str | None = None  # consumption register; default energy_import, energy_total, volume_total
    leak_check: bool = False  # water: flow in every leak interval of the night window is a leak
    leak_from: ClockTime = dt.time(1, 0)  # night window, site time
    leak_to: ClockTime = dt.time(5, 0)
    leak_interval_min: Minutes = 60  # the window is cut into intervals of this length
    comfort_check: bool = True  # temperature / humidity / noise points against [comfort]
    comfort_readings: int = Field(3, ge=1, le=100)  # readings in a row out of (back in) range to raise (clear)
    place: Text = "设备房 Plant room"

    @model_validator(mode="after")
    def _address(self) -> "MeterConfig":
        if self.protocol == "modbus":
            if not re.fullmatch(r"[0-9]{1,3}", self.address) or not 1 <= int(self.address) <= 247:
                raise ValueError("address of a modbus meter must be a unit id from 1 to 247")
            if not self.map:
                raise ValueError("a modbus meter needs map (\"eastron_sdm120\", \"eastron_sdm630\", \"xy_md02\" or a file)")
        else:
            digits = 12 if self.protocol == "dlt645" else 14
            if not re.fullmatch(rf"[0-9]{{1,{digits}}}", self.address):
                raise ValueError(f"address of a {self.protocol} meter must be up to {digits} decimal digits")
            if self.map:
                raise ValueError(f"map is for modbus meters; a {self.protocol} meter has none")
        if self.leak_check:
            window = _minutes_between(self.leak_from, self.leak_to)
            if window < self.leak_interval_min:
                raise ValueError("leak_from..leak_to must be at least leak_interval_min long")
            if self.interval_s > self.leak_interval_min * 60:
                raise ValueError("leak_check needs interval_s no longer than leak_interval_min")
        return self

    @property
    def padded_address(self) -> str:
        """The address as the wire needs it: 12 (DL/T 645) or 14 (CJ/T 188) digits."""
        if self.protocol == "modbus":
            return self.address
        return self.address.zfill(12 if self.protocol == "dlt645" else 14)


def _minutes_between(start: dt.time, end: dt.time) -> float:
    """Length of a daily window in minutes (it may run past midnight)."""
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return minutes if minutes > 0 else minutes + 24 * 60


class ButtonConfig(Section):
    id: Id
    pin: int = Field(ge=0, le=27)
    place: Text
    meaning: Text  # e.g. "needs cleaning", "call staff"
    role: Literal["ticket", "feedback"] = "ticket"
    ticket_kind: Literal["repair", "complaint", "enquiry", "incident"] = "repair"
    category: Text = "other"
    urgent: bool = False
    face: Literal["very_unhappy", "unhappy", "happy", "very_happy"] | None = None
    led_pin: int | None = Field(None, ge=0, le=27)
    bounce_ms: int = Field(50, ge=0, le=2000)
    repeat_window_s: Seconds = 600
    stuck_after_s: Seconds = 30
    ack_steady_s: Seconds = 300

    @model_validator(mode="after")
    def _face(self) -> "ButtonConfig":
        if self.role == "feedback" and self.face is None:
            raise ValueError("a feedback button needs face (very_unhappy, unhappy, happy or very_happy)")
        return self


class PrinterConfig(Section):
    kind: Literal["none", "file", "serial", "usb", "network"] = "none"
    path: str | None = None  # file: the byte stream; serial: the port
    host: str | None = None
    port: int = Field(9100, ge=1, le=65535)
    usb_vendor: int | None = None
    usb_product: int | None = None
    baudrate: int = Field(19200, ge=1200, le=921600)
    paper_width_px: Literal[384, 576] = 384  # 58 mm or 80 mm paper

    @model_validator(mode="after")
    def _target(self) -> "PrinterConfig":
        needs = {"file": "path", "serial": "path", "network": "host", "usb": "usb_vendor"}
        key = needs.get(self.kind)
        if key and getattr(self, key) is None:
            raise ValueError(f"a {self.kind} printer needs {key}")
        return self


class Checkpoint(Section):
    """A patrol checkpoint (巡更点): a tag on the wall, or a reader that stands there."""

    id: Id
    name: Text  # shown to the guard at the kiosk; not personal data
    place: Text
    tag_uid: CardUid | None = None
    reader: Id | None = None

    @model_validator(mode="after")
    def _where(self) -> "Checkpoint":
        if (self.tag_uid is None) == (self.reader is None):
            raise ValueError("a checkpoint needs exactly one of tag_uid or reader")
        return self


class Guard(Section):
    """A security guard and the personal card tapped first on a round (人员点)."""

    id: Id
    name: Text  # personal: never put in events or logs
    card_uid: CardUid


class Route(Section):
    id: Id
    name: Text
    checkpoints: list[Id] = Field(min_length=1)  # a checkpoint may appear twice (start and end at the guard room)
    ordered: bool = True  # false: any order, the whole round due within the sum of the windows
    max_gap_min: Minutes = 15  # window of each checkpoint: at most this long after the previous one
    windows_min: dict[str, Minutes] = {}  # per-checkpoint window overriding max_gap_min, e.g. { cp-roof = 25 }
    min_gap_min: float = Field(0, ge=0, le=24 * 60)  # sooner than this after the previous point is "early"; 0: off

    @model_validator(mode="after")
    def _gaps(self) -> "Route":
        for key, minutes in self.windows_min.items():
            if key not in self.checkpoints:
                raise ValueError(f"windows_min names {key!r}, which is not one of this route's checkpoints")
            if self.min_gap_min and minutes <= self.min_gap_min:
                raise ValueError(f"windows_min.{key} must be longer than min_gap_min")
        if self.min_gap_min and self.max_gap_min <= self.min_gap_min:
            raise ValueError("max_gap_min must be longer than min_gap_min")
        return self

    def window_min(self, checkpoint: str) -> float:
        return self.windows_min.get(checkpoint, self.max_gap_min)


class Schedule(Section):
    """When a route is walked: fixed times of day, every N hours in a window, or K random rounds in a window.

    Times are wall-clock times of day in site.timezone; a window whose end is not after its
    start crosses midnight (22:00-06:00). Window ends are exclusive.
    """

    route: Id
    kind: Literal["fixed", "every", "random"]
    times: list[ClockTime] = []  # fixed
    every_h: float | None = Field(None, gt=0, le=24)  # every
    window_from: ClockTime | None = None  # every / random
    window_to: ClockTime | None = None
    count: int = Field(1, ge=1, le=48)  # random: rounds in the window

    @model_validator(mode="after")
    def _shape(self) -> "Schedule":
        if self.kind == "fixed" and not self.times:
            raise ValueError("a fixed schedule needs times")
        if self.kind == "fixed" and len(set(self.times)) != len(self.times):
            raise ValueError("times of a fixed schedule must not repeat")
        if self.kind != "fixed" and self.times:
            raise ValueError(f"times belongs to a fixed schedule, not to {'an' if self.kind == 'every' else 'a'} {self.kind} one")
        if self.kind == "every" and self.every_h is None:
            raise ValueError("an every schedule needs every_h")
        if self.kind != "every" and self.every_h is not None:
            raise ValueError(f"every_h belongs to an every schedule, not to a {self.kind} one")
        if self.kind in ("every", "random"):
            if self.window_from is None or self.window_to is None:
                raise ValueError(f"{'an' if self.kind == 'every' else 'a'} {self.kind} schedule needs window_from and window_to")
            if self.window_from == self.window_to:
                raise ValueError("window_from and window_to must differ (a window ending before it starts crosses midnight)")
        elif self.window_from is not None or self.window_to is not None:
            raise ValueError("window_from and window_to belong to every and random schedules")
        if self.kind != "random" and self.count != 1:
            raise ValueError("count belongs to a random schedule")
        return self


class PatrolConfig(Section):
    """Patrol rounds (巡更): who, where, when, and how late is too late (lobby/patrol)."""

    grace_min: Minutes = 5  # after a window: a scan is "late" within this, the point is missed after it
    start_window_min: Minutes = 30  # a scheduled round may start this late
    early_start_min: float = Field(10, ge=0, le=24 * 60)  # ... and this early (its first scan is "early")
    session_min: Minutes = 60  # a guard card tapped on a wand or free reader names the guard of the
    #                             tag taps on that device until this long after its last scan
    report_at: ClockTime = dt.time(7, 0)  # patrol.report for the previous day is published from this time
    checkpoints: list[Checkpoint] = []
    guards: list[Guard] = []
    routes: list[Route] = []
    schedules: list[Schedule] = []


# --------------------------------------------------------------------------- root


class Config(Section):
    version: int = Field(ge=1)
    state_dir: str = "/var/lib/lobby"
    site: SiteConfig
    mqtt: MqttConfig
    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    security: SecurityConfig = SecurityConfig()
    service: ServiceLevels = ServiceLevels()
    places: PlacesConfig = PlacesConfig()
    visitors: VisitorsConfig = VisitorsConfig()
    tickets: TicketsConfig = TicketsConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    comfort: ComfortConfig = ComfortConfig()
    kpi: KpiConfig = KpiConfig()
    shifts: ShiftsConfig = ShiftsConfig()
    alerts: AlertsConfig = AlertsConfig()
    time: TimeConfig = TimeConfig()
    kiosk: KioskConfig = KioskConfig()
    gpio: GpioConfig = GpioConfig()
    printer: PrinterConfig = PrinterConfig()
    readers: list[NfcReaderConfig] = []
    buses: list[SerialBusConfig] = []
    meters: list[MeterConfig] = []
    buttons: list[ButtonConfig] = []
    patrol: PatrolConfig = PatrolConfig()

    @property
    def base_topic(self) -> str:
        return self.mqtt.base_topic or f"lobby/{self.site.site_id}/{self.site.gateway_id}"

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"lobby-{self.site.gateway_id}"

    @property
    def bridge(self) -> BridgeSettings:
        """What the bridge needs of this file, as the bridge's own settings."""
        return BridgeSettings(mqtt=self.mqtt, base_topic=self.base_topic, client_id=self.client_id,
                              gateway_id=self.site.gateway_id, bulk_max_rows=self.store.bulk_max_rows,
                              bulk_max_bytes=self.store.bulk_max_mb * 1_000_000,
                              disk_min_free_bytes=self.store.disk_min_free_mb * 1_000_000,
                              command_log_max_rows=self.store.command_log_max_rows,
                              command_log_max_bytes=int(self.store.command_log_max_mb * 1_000_000))
