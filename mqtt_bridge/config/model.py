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

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

# --------------------------------------------------------------------------- types

_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
_UID_RE = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")


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
        match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", value.strip())
        if match:
            return dt.time(int(match[1]), int(match[2]))
    raise ValueError("must be a time of day written as \"HH:MM\" (24-hour)")


def _parse_month_day(value: Any) -> tuple[int, int]:
    if isinstance(value, str):
        match = re.fullmatch(r"(\d\d)-(\d\d)", value.strip())
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
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as \"Asia/Shanghai\")")
    return value


Id = Annotated[str, AfterValidator(_check_id)]
ClockTime = Annotated[dt.time, BeforeValidator(_parse_clock)]
MonthDay = Annotated[tuple[int, int], BeforeValidator(_parse_month_day)]
CardUid = Annotated[str, BeforeValidator(_normalise_uid)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Hours = Annotated[float, Field(gt=0, le=24 * 30)]
Minutes = Annotated[float, Field(gt=0, le=24 * 60)]
Seconds = Annotated[float, Field(gt=0, le=86400)]
Percent = Annotated[float, Field(ge=0, le=100)]


class Section(BaseModel):
    """Strict: no unknown keys, no silent type coercion, assignments re-validated."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


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
    backup_keep: int = Field(7, ge=1, le=365)


class TlsConfig(Section):
    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False  # for bench rigs only; doctor warns loudly

    @model_validator(mode="after")
    def _pairs(self) -> "TlsConfig":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class DiscoveryConfig(Section):
    enabled: bool = True
    prefix: Text = "homeassistant"


class MqttConfig(Section):
    host: Text
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    client_id: str | None = None  # default: the gateway id
    base_topic: str | None = None  # default: lobby/<site_id>/<gateway_id>
    keepalive_s: int = Field(30, ge=5, le=3600)
    username: str | None = None
    password: str | None = Field(None, repr=False)
    password_file: str | None = None
    tls: TlsConfig = TlsConfig()
    inflight: int = Field(20, ge=1, le=1000)
    reconnect_min_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(60.0, gt=0, le=3600)
    historical_after_s: float = Field(60.0, gt=0, le=86400)
    command_max_bytes: int = Field(65536, ge=1024, le=16 * 1024 * 1024)
    discovery: DiscoveryConfig = DiscoveryConfig()

    @model_validator(mode="after")
    def _consistent(self) -> "MqttConfig":
        if self.password is not None and self.password_file is not None:
            raise ValueError("give either password or password_file, not both")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must not be less than reconnect_min_s")
        if self.base_topic is not None and (
            not self.base_topic or any(c in self.base_topic for c in "#+\0")
            or self.base_topic.startswith("/") or self.base_topic.endswith("/")
        ):
            raise ValueError("base_topic must be a plain topic path without wildcards or edge slashes")
        return self


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SecurityConfig(Section):
    """What central may change remotely, decided on site."""

    allow_remote_config: bool = True
    allow_tls_off: bool = False
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
    repair_complete_h: Hours = 24
    return_visit_working_days: int = Field(2, ge=1, le=30)
    complaint_return_visit_pct: Percent = 100
    greet_visitor_within_s: Seconds = 60


class PlacesConfig(Section):
    buildings: list[Text] = ["A"]
    floors: list[Text] = ["B1", "1F", "2F", "3F"]
    areas: list[Text] = [
        "大堂 Lobby", "电梯厅 Lift lobby", "电梯 Lift car", "消防楼梯 Fire stairs",
        "卫生间 Toilet", "走廊 Corridor", "停车场 Car park", "设备房 Plant room",
        "广场 Plaza", "空置单元 Vacant unit",
    ]


class VisitorsConfig(Section):
    pass_valid_until: ClockTime = dt.time(23, 59)  # end of the day by default
    unreturned_pass_alert_at: ClockTime = dt.time(22, 0)
    name_max_len: int = Field(40, ge=2, le=200)
    company_max_len: int = Field(80, ge=2, le=400)
    max_party_size: int = Field(20, ge=1, le=500)
    invitation_valid_h: Hours = 24
    watchlist_enabled: bool = False
    duplicate_window_s: Seconds = 10


class TicketsConfig(Section):
    categories: list[Text] = [
        "engineering", "security", "cleaning", "greening", "parking", "noise", "developer", "other",
    ]
    description_max_len: int = Field(500, ge=10, le=5000)
    number_length: int = Field(6, ge=4, le=12)


class FeedbackConfig(Section):
    misuse_max_presses: int = Field(5, ge=1, le=1000)
    misuse_window_s: Seconds = 10
    exclude_flagged: bool = True
    satisfaction_target_pct: Percent = 85
    unhappy_reasons: list[Text] = ["waiting", "attitude", "cleanliness", "repair", "noise", "other"]


class PrivacyConfig(Section):
    visitor_retention_days: int = Field(30, ge=1, le=3650)
    ticket_contact_retention_days: int = Field(180, ge=1, le=3650)
    stats_retention_days: int = Field(1095, ge=30, le=36500)
    mask_phone_in_events: bool = True
    purge_at: ClockTime = dt.time(3, 30)


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
    facility_uptime_target_pct: Percent = 98
    fee_collection_target_pct: Percent = 80
    survey_return_target_pct: Percent = 60


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
    handover_early_min: Minutes = 5


class AlertsConfig(Section):
    health_interval_s: Seconds = 60
    disk_min_free_pct: Percent = 10
    cpu_temp_max_c: float = Field(80, ge=40, le=120)
    clock_unsynced_max_min: Minutes = 60
    outbox_oldest_max_min: Minutes = 15


class KioskConfig(Section):
    idle_timeout_s: Seconds = 60
    screensaver_after_s: Seconds = 300
    dim_from: ClockTime = dt.time(23, 0)
    dim_to: ClockTime = dt.time(6, 0)
    thank_you_s: Seconds = 3
    font_path: str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    fullscreen: bool = True
    feedback_place: Text = "大堂 Lobby"
    staff_cards: list[CardUid] = []  # local allowlist; central adds more with cards.update


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
    id: Id
    port: Text
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 2400
    parity: Literal["N", "E", "O"] = "E"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    timeout_ms: int = Field(500, ge=10, le=10_000)
    retries: int = Field(2, ge=0, le=10)


class MeterConfig(Section):
    id: Id
    bus: Id
    protocol: Literal["modbus", "dlt645", "cjt188"]
    address: str = Field(min_length=1, max_length=14)  # modbus unit id, or BCD digits
    kind: Literal["electricity", "water", "heat", "environment"] = "electricity"
    map: str | None = None  # modbus register map: "sdm120", "sdm630", "th_sensor" or a file
    points: list[Text] = []  # what to read; empty: everything the map/protocol offers
    interval_s: float = Field(60, ge=1, le=86400)
    offline_after_failures: int = Field(3, ge=1, le=100)
    max_jump_per_h: float | None = Field(None, gt=0)  # implausible rise of a cumulative register
    leak_check: bool = False  # water: flow in every interval through the night is a leak
    place: Text = "设备房 Plant room"

    @model_validator(mode="after")
    def _address(self) -> "MeterConfig":
        if self.protocol == "modbus":
            if not self.address.isdigit() or not 1 <= int(self.address) <= 247:
                raise ValueError("address of a modbus meter must be a unit id from 1 to 247")
            if not self.map:
                raise ValueError("a modbus meter needs map (\"sdm120\", \"sdm630\", \"th_sensor\" or a file)")
        else:
            digits = 12 if self.protocol == "dlt645" else 14
            if not re.fullmatch(rf"\d{{1,{digits}}}", self.address):
                raise ValueError(f"address of a {self.protocol} meter must be up to {digits} decimal digits")
        return self


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
    id: Id
    name: Text
    place: Text
    tag_uid: CardUid | None = None
    reader: Id | None = None

    @model_validator(mode="after")
    def _where(self) -> "Checkpoint":
        if (self.tag_uid is None) == (self.reader is None):
            raise ValueError("a checkpoint needs exactly one of tag_uid or reader")
        return self


class Guard(Section):
    id: Id
    name: Text
    card_uid: CardUid


class Route(Section):
    id: Id
    name: Text
    checkpoints: list[Id] = Field(min_length=1)
    ordered: bool = True
    max_gap_min: Minutes = 15  # window after the previous checkpoint


class Schedule(Section):
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
        if self.kind == "every" and self.every_h is None:
            raise ValueError("an every schedule needs every_h")
        if self.kind in ("every", "random") and (self.window_from is None or self.window_to is None):
            raise ValueError(f"a {self.kind} schedule needs window_from and window_to")
        return self


class PatrolConfig(Section):
    grace_min: Minutes = 5
    start_window_min: Minutes = 30  # a scheduled round may start this late
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
