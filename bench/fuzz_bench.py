"""Coverage-guided fuzzing of every place untrusted bytes enter, a million runs per target.

    python bench/fuzz_bench.py TARGET [--runs 1000000] [--seed 1] [--engine atheris|hypothesis]
    python bench/fuzz_bench.py all --runs 1000000      # every target, one after the other

Targets and what each run may legitimately end in (anything else is a crash):

    dlt645, cjt188, modbus  the installer decoder (`lobby decode`), the frame parsers and the
                            bus scanner on the bytes: drivers.meters.errors.FrameError
    pn532                   the PN532 simulator's frame parser, then the chip on every
                            command frame it decodes: drivers.nfc.sim.pn532.FrameError
    command                 CommandIntake.handle(name, raw bytes), every command name and
                            unknown ones: never raises, never "internal error", exactly one
                            result that validates against command_result.json; the store
                            (on /dev/shm) passes integrity_check at the end
    config                  parse_config(text): a Config or lobby.config.ConfigError
    text                    the kiosk's name / company / free text / permit cleaners:
                            ValidationFailed (a FieldError) or a value that cleans to itself
    phone                   normalise_phone: ValidationFailed or a canonical phone
    codes                   pass numbers, ticket numbers and invitation codes as typed at the
                            kiosk (read_code, normalise_token, the lookups): None / a refusal
    ime                     the pinyin input (kiosk.ime) driven by key presses: its own
                            invariants hold (only if the module is installed)

atheris (libFuzzer) is used when importable (`pip install atheris`); otherwise, or with
--engine hypothesis, random inputs come from hypothesis (no coverage guidance, slower).
Figures go to build/reports/fuzz_<target>.json and are printed; docs/RELIABILITY.md
quotes them. A target that stops on a crash prints the input that caused it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REPORTS = ROOT / "build" / "reports"
TARGETS = ("dlt645", "cjt188", "modbus", "pn532", "command", "config", "text", "phone", "codes", "ime")


class Crash(AssertionError):
    """A run ended in something its target does not allow."""


KNOWN_BUGS: dict[str, tuple[type[BaseException], ...]] = {
    # Reported product bugs, counted instead of stopping a run so that it completes its
    # million. Empty since RecursionError in the config loader and impossible command
    # times (both found here) were fixed; add an entry only with an xfail test beside it.
}


# ---------------------------------------------------------------------------------- targets


class Target:
    """`run(data)` does one execution; `seeds()` starts the corpus; `finish()` checks the end state."""

    name = ""
    max_len = 512

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def seeds(self) -> list[bytes]:
        return []

    def run(self, data: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> dict[str, Any]:
        return {}


class MeterFrames(Target):
    max_len = 300
    GOLDEN = {
        "dlt645": ["FE FE FE FE 68 94 35 21 90 88 55 68 91 08 33 33 34 33 59 35 33 33 81 16",
                   "68 94 35 21 90 88 55 68 D1 01 35 2E 16",
                   "FE FE FE FE 68 94 35 21 90 88 55 68 93 06 C7 68 54 C3 BB 88 49 16",
                   "68 94 35 21 90 88 55 68 11 04 33 33 34 33 B3 16"],
        "cjt188": ["FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16",
                   "68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C 00 77 66 55 2C 31 01 22 11 05 15 20 21 "
                   "84 13 16", "68 10 44 33 22 11 00 33 78 C1 03 00 01 00 92 16"],
        "modbus": ["01 04 00 00 00 02 71 CB", "01 04 04 00 F5 01 C4 EB B5", "01 83 02 C0 F1", "01 03 00 00 00 0A C5 CD",
                   "01 10 00 01 00 02 04 00 0A 01 02 92 30"],
    }

    def __init__(self, protocol: str) -> None:
        super().__init__()
        from drivers.meters import cjt188, dlt645, modbus_rtu
        from drivers.meters.decode import decode_frame
        from drivers.meters.devices import Cjt188Device, Dlt645Device, ModbusDevice
        from drivers.meters.errors import FrameError
        from drivers.meters.exchanges import plan, scan

        self.name = protocol
        self.decode, self.scan, self.FrameError = decode_frame, scan, FrameError
        self.parsers = {"dlt645": [dlt645.parse_frame], "cjt188": [cjt188.parse_frame],
                        "modbus": [modbus_rtu.parse_request, modbus_rtu.parse_response]}[protocol]
        device = {"dlt645": Dlt645Device(device_id="e", address="558890213594"),
                  "cjt188": Cjt188Device(device_id="w", address="78330011223344"),
                  "modbus": ModbusDevice(device_id="m", unit=1, register_map="eastron_sdm120")}[protocol]
        self.exchanges = plan(device)

    def seeds(self) -> list[bytes]:
        return [bytes.fromhex(g) for g in self.GOLDEN[self.name]]

    def run(self, data: bytes) -> None:
        try:
            json.dumps(self.decode(self.name, data))
            self.count("decoded")
        except self.FrameError:
            self.count("frame_error")
        for parse in self.parsers:
            try:
                frame, size = parse(data)
                if not 0 < size <= len(data):
                    raise Crash(f"parser consumed {size} of {len(data)} bytes")
            except self.FrameError:
                pass
        exchange = self.exchanges[data[0] % len(self.exchanges)] if data else self.exchanges[0]
        result = self.scan(data, exchange)
        if result.answer is not None and not result.end > result.start:
            raise Crash("scanner accepted an empty frame")


class Pn532Frames(Target):
    name = "pn532"
    max_len = 300

    def __init__(self) -> None:
        super().__init__()
        from drivers.nfc.sim import pn532

        self.pn532 = pn532
        self.chip = pn532.PN532Chip()
        self.chip.present(pn532.Tag("04A2243B5C6D80", "ntag"))

    def seeds(self) -> list[bytes]:
        enc = self.pn532.encode_frame
        return [self.pn532.ACK_FRAME, self.pn532.NACK_FRAME, enc(0xD4, b"\x02"), enc(0xD4, b"\x4a\x01\x00"),
                b"\x55\x55\x00\x00\x00" + enc(0xD4, b"\x14\x01"), enc(0xD4, b"\x40\x01\x30\x00"),
                enc(0xD4, bytes(300)[:250])]

    def run(self, data: bytes) -> None:
        buf = bytes(data)
        for _ in range(64):  # as the simulator's loop consumes a buffer
            if not buf:
                break
            try:
                frame, consumed = self.pn532.decode_frame(buf)
            except self.pn532.FrameError as exc:
                if exc.skip <= 0:
                    raise Crash(f"FrameError asks to skip {exc.skip} bytes") from None
                buf = buf[exc.skip:]
                self.count("frame_error")
                continue
            if frame is None:
                self.count("incomplete")
                break
            if consumed <= 0:
                raise Crash("decoded a frame from no bytes")
            buf = buf[consumed:]
            self.count(frame.kind)
            if frame.kind == "info" and frame.payload:
                self.chip.execute(frame.payload, time.monotonic())
                self.chip.abort()


class Commands(Target):
    name = "command"
    max_len = 1024

    def __init__(self) -> None:
        super().__init__()
        from lobby.commands import lobby_specs
        from mqtt_bridge import schemas
        from mqtt_bridge.alerts import AlertEngine
        from lobby.cardhash import load_key
        from lobby.commands import CommandContext, default_specs
        from mqtt_bridge.commands import CommandIntake
        from lobby.config import parse_config
        from mqtt_bridge.store import Store

        self.schemas = schemas
        self.tmp = Path(tempfile.mkdtemp(prefix="fuzz-command-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        text = (f'version = 1\nstate_dir = "{self.tmp}"\n[site]\nsite_id = "tower-a"\ngateway_id = "gw-fuzz"\n'
                f'[mqtt]\nhost = "127.0.0.1"\n')
        (self.tmp / "lobby.toml").write_text(text)
        cfg = parse_config(text)
        self.store = Store(self.tmp / "lobby.db")
        ctx = CommandContext(cfg, self.tmp / "lobby.toml", AlertEngine(self.store), load_key(self.tmp))
        specs = default_specs(ctx)
        specs.update(lobby_specs(ctx))
        self.intake = CommandIntake(self.store, specs, cfg.mqtt.command_max_bytes)
        self.names = schemas.command_names() + ["reboot", ""]

    def seeds(self) -> list[bytes]:
        examples = {
            "ping": {"echo": "hi"}, "notice.show": {"notice_id": "n1", "title": "停水"}, "notice.hide": {"notice_id": "n1"},
            "alert.ack": {"key": "meter.offline:m1"}, "directory.update": {"entries": [{"id": "u1", "unit": "1201"}]},
            "cards.update": {"cards": [{"uid": "04A1B2C3", "role": "guard"}]},
            "ticket.update": {"ticket_no": "K7P2QX", "status": "assigned", "reply": "ok"},
            "visitor.host_ack": {"visit_id": "v1", "eta_min": 3},
            "visitor.invite": {"invite_id": "i1", "code": "123456", "visitor_name": "张三",
                               "visitor_phone": "13800138000", "host_id": "u1", "purpose": "meeting",
                               "valid_from": "2026-11-26T09:00:00Z"},
            "evacuation.start": {"drill": True}, "evacuation.end": {},
            "config.update": {"version": 2, "toml": "version = 2\n[site]\nsite_id = \"a\"\ngateway_id = \"b\"\n"},
        }
        return [bytes([self.names.index(name)]) + json.dumps({"id": f"seed-{name}", "ts": "2026-11-25T10:00:00Z",
                                                               "data": data}, ensure_ascii=False).encode()
                for name, data in examples.items()]

    def run(self, data: bytes) -> None:
        if not data:
            return
        name = self.names[data[0] % len(self.names)]
        try:
            result = self.intake.handle(name, data[1:])
        except BaseException as exc:  # noqa: BLE001 - the intake promises never to raise
            raise Crash(f"intake raised {type(exc).__name__}: {exc}") from exc
        if not result.ok and result.error and "internal error" in result.error:
            raise Crash(f"intake answered an internal error for {name}")
        body = json.loads(result.payload())
        if self.schemas.first_error("command_result.json", body) is not None:
            raise Crash(f"result does not validate: {body}")
        self.count("accepted" if result.ok else "rejected")

    def finish(self) -> dict[str, Any]:
        integrity = self.store.integrity_check()
        rows = self.store.scalar("SELECT count(*) FROM commands")
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if integrity != "ok":
            raise Crash(f"store integrity after the run: {integrity}")
        return {"store_integrity": integrity, "commands_recorded": rows}


class Configs(Target):
    name = "config"
    max_len = 8192

    def __init__(self) -> None:
        super().__init__()
        from lobby.config import Config, ConfigError, parse_config

        self.parse, self.Config, self.ConfigError = parse_config, Config, ConfigError

    def seeds(self) -> list[bytes]:
        return [(ROOT / "config" / "example.toml").read_bytes(),
                b'version = 1\n[site]\nsite_id = "a"\ngateway_id = "b"\n[mqtt]\nhost = "h"\n']

    def run(self, data: bytes) -> None:
        text = data.decode("utf-8", errors="replace")
        try:
            cfg = self.parse(text, "fuzz.toml")
        except self.ConfigError as exc:
            if not exc.problems:
                raise Crash("ConfigError without a problem") from None
            self.count("config_error")
            return
        if not isinstance(cfg, self.Config):
            raise Crash(f"parse_config returned {type(cfg).__name__}")
        self.count("config")


class TextFields(Target):
    name = "text"
    max_len = 1200

    def __init__(self) -> None:
        super().__init__()
        from lobby.services.messages import ValidationFailed
        from lobby.services.text import clean_code, clean_company, clean_free_text, clean_name

        self.invalid = ValidationFailed
        self.cleaners: list[tuple[str, Callable[..., str | None], dict[str, Any]]] = [
            ("name", clean_name, {"max_len": 40, "required": False}),
            ("company", clean_company, {"max_len": 80}),
            ("free_text", clean_free_text, {"max_len": 500, "required": False}),
            ("permit", clean_code, {"max_len": 40}),
        ]

    def seeds(self) -> list[bytes]:
        return [bytes([i]) + s.encode() for i in range(4)
                for s in ("张伟", "Zoë O'Brien-Łukasz", "华建工程 Huajian Engineering ®", "PRM-2024/007",
                          "灯不亮\n二楼走廊 ", "ＡＢＣ１２３", "a\u200db", "e\u0301\u0301")]

    def run(self, data: bytes) -> None:
        if not data:
            return
        label, fn, kwargs = self.cleaners[data[0] % len(self.cleaners)]
        value = data[1:].decode("utf-8", errors="surrogateescape" if data[0] & 0x80 else "replace")
        try:
            out = fn(value, **kwargs)
        except self.invalid as exc:
            if not exc.errors or not all(e.field and e.code and e.zh and e.en for e in exc.errors):
                raise Crash("a FieldError without its message") from None
            self.count(f"{label}:field_error")
            return
        if out is not None:
            again = fn(out, **kwargs)
            if again != out or len(out) > kwargs["max_len"]:
                raise Crash(f"{label}: {out!r} cleans to {again!r}")
        self.count(f"{label}:value")


class Phones(Target):
    name = "phone"
    max_len = 80

    def __init__(self) -> None:
        super().__init__()
        from lobby.services.messages import ValidationFailed
        from lobby.services.phone import mask_phone, normalise_phone

        self.normalise, self.mask, self.invalid = normalise_phone, mask_phone, ValidationFailed

    def seeds(self) -> list[bytes]:
        return [s.encode() for s in ("13812345678", "+86 138-1234-5678", "0086 (138) 1234 5678", "+44 7911 123456",
                                     "１３８１２３４５６７８", "138 1234 567", "+1 (555) 0100")]

    def run(self, data: bytes) -> None:
        value = data.decode("utf-8", errors="replace")
        try:
            out = self.normalise(value, required=False)
        except self.invalid:
            self.count("field_error")
            return
        if out is not None:
            if not re.fullmatch(r"1[3-9]\d{9}|\+[1-9]\d{6,14}", out) or self.normalise(out) != out:
                raise Crash(f"not a canonical phone: {out!r}")
            if out[-4:] != self.mask(out)[-4:]:
                raise Crash("mask does not keep the last four digits")
        self.count("value")


class Codes(Target):
    name = "codes"
    max_len = 200

    def __init__(self) -> None:
        super().__init__()
        from lobby.services import LobbyServices
        from lobby.services.codes import read_code
        from lobby.services.invitations import normalise_token
        from lobby.config import parse_config
        from mqtt_bridge.store import Store

        self.read_code, self.normalise_token = read_code, normalise_token
        self.tmp = Path(tempfile.mkdtemp(prefix="fuzz-codes-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        cfg = parse_config(f'version = 1\nstate_dir = "{self.tmp}"\n[site]\nsite_id = "a"\ngateway_id = "b"\n'
                           f'[mqtt]\nhost = "h"\n')
        self.store = Store(self.tmp / "lobby.db")
        self.lobby = LobbyServices(self.store, cfg, card_key=b"k" * 32)
        from lobby.services.ratelimit import FailureLimiter

        for owner in (self.lobby.tickets, self.lobby.invitations, self.lobby.visitors):
            for attr in ("limiter", "last4_limiter"):
                if hasattr(owner, attr):  # the lockout itself is tested elsewhere; here every input is looked up
                    setattr(owner, attr, FailureLimiter(10 ** 12, 1.0, 1.0))

    def seeds(self) -> list[bytes]:
        return [s.encode() for s in ("K7P2QX", "k7p2-qx", "482913", "A5B9C", "abcdefghijklmnop", "1234", "ＡＢＣ")]

    def run(self, data: bytes) -> None:
        value = data.decode("utf-8", errors="replace")
        code = self.read_code(value)
        if code is not None and (not re.fullmatch(r"[0-9A-Z_]+", code) or self.read_code(code) != code):
            raise Crash(f"read_code gave {code!r}")
        token = self.normalise_token(value)
        if token is not None and not re.fullmatch(r"[0-9A-Z_]{6,64}", token):
            raise Crash(f"normalise_token gave {token!r}")
        which = data[0] % 4 if data else 0
        outcome = (self.lobby.tickets.lookup, self.lobby.invitations.find, self.lobby.visitors.find_by_phone_last4,
                   self.lobby.visitors.check_out_by_pass)[which](value)
        if outcome.ok or not (outcome.message.zh and outcome.message.en):
            raise Crash(f"a made-up number was accepted: {value!r}")
        self.count(outcome.status)

    def finish(self) -> dict[str, Any]:
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return {}


class Ime(Target):
    name = "ime"
    max_len = 48

    def __init__(self) -> None:
        super().__init__()
        import unicodedata

        from kiosk.ime.keyboard import KINDS, TextEntry, build_layout
        from kiosk.ime.pinyin import MAX_COMPOSITION

        self.TextEntry, self.kinds, self.max_comp, self.ud = TextEntry, sorted(KINDS), MAX_COMPOSITION, unicodedata
        self.keys = sorted({k.id for name in ("zh", "en", "digits") for kind in KINDS
                            for k in build_layout(name, kind, "en").keys})

    def seeds(self) -> list[bytes]:
        return [b"\x00\x05" + bytes(range(40)), b"\x01\x0c" + b"nihao" * 5]

    def run(self, data: bytes) -> None:
        if len(data) < 2:
            return
        entry = self.TextEntry(kind=self.kinds[data[0] % len(self.kinds)], max_length=1 + data[1] % 12)
        for byte in data[2:]:
            op = byte % 8
            if op < 4:
                entry.press(self.keys[byte % len(self.keys)])
            elif op == 4:
                entry.choose(byte % 12 - 2)
            elif op == 5:
                entry.next_page() if byte & 0x10 else entry.prev_page()
            elif op == 6:
                entry.set_layout(("zh", "en", "digits", "xx")[byte % 4])
            else:
                entry.finish()
            if len(entry.text) > entry.max_length or len(entry.composition) > self.max_comp:
                raise Crash("entry outgrew its limits")
            if any(self.ud.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} for ch in entry.text):
                raise Crash(f"invisible or control character in {entry.text!r}")
        self.count("sequence")


def make(target: str) -> Target:
    if target in ("dlt645", "cjt188", "modbus"):
        return MeterFrames(target)
    return {"pn532": Pn532Frames, "command": Commands, "config": Configs, "text": TextFields, "phone": Phones,
            "codes": Codes, "ime": Ime}[target]()


# ---------------------------------------------------------------------------------- engines


def _write_counts(path: Path, target: Target, runs: int, known: int, started: float) -> None:
    path.write_text(json.dumps({"executions": runs, "known_bug_hits": known, "outcomes": target.outcomes,
                                "seconds": time.monotonic() - started}))


def child(target_name: str, runs: int, seed: int, engine: str, counts: Path, workdir: Path) -> int:
    """Runs inside its own process (libFuzzer exits the process when it is done)."""
    if engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["drivers", "mqtt_bridge", "kiosk"]):
            target = make(target_name)
    else:
        target = make(target_name)
    known_types = KNOWN_BUGS.get(target_name, ())
    state = {"n": 0, "known": 0}
    started = time.monotonic()

    def one(data: bytes) -> None:
        state["n"] += 1
        try:
            target.run(data)
        except known_types:
            state["known"] += 1
        except Crash:
            (workdir / "crash-input.b64").write_text(base64.b64encode(data).decode())
            raise
        except Exception:
            (workdir / "crash-input.b64").write_text(base64.b64encode(data).decode())
            raise
        if state["n"] % 50_000 == 0 or state["n"] == runs:
            _write_counts(counts, target, state["n"], state["known"], started)
            if state["n"] == runs:
                extra = target.finish()
                data_out = json.loads(counts.read_text())
                counts.write_text(json.dumps({**data_out, **extra}))

    if engine == "atheris":
        corpus = workdir / "corpus"
        corpus.mkdir(exist_ok=True)
        for i, seed_bytes in enumerate(target.seeds()):
            (corpus / f"seed-{i}").write_bytes(seed_bytes)
        atheris.Setup([sys.argv[0], f"-runs={runs}", f"-seed={seed}", f"-max_len={target.max_len}",
                       f"-artifact_prefix={workdir}/", "-print_final_stats=1", "-rss_limit_mb=4096",
                       "-timeout=30", str(corpus)], one)
        atheris.Fuzz()  # does not return
        return 0
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    for seed_bytes in target.seeds():
        one(seed_bytes)

    @settings(max_examples=max(runs - len(target.seeds()), 1), deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(st.binary(max_size=target.max_len))
    def fuzz(data: bytes) -> None:
        one(data)

    fuzz()
    if state["n"] < runs:  # hypothesis stops early once it has seen everything it can make
        _write_counts(counts, target, state["n"], state["known"], started)
        counts.write_text(json.dumps({**json.loads(counts.read_text()), **target.finish()}))
    return 0


def run_target(target: str, runs: int, seed: int, engine: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
    counts = workdir / "counts.json"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, target, "--runs", str(runs), "--seed", str(seed),
                           "--engine", engine, "--child", str(workdir)], cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    out = proc.stdout + proc.stderr
    figures: dict[str, Any] = {"target": target, "engine": engine, "runs_requested": runs, "seed": seed,
                               "exit_code": proc.returncode, "wall_s": round(wall, 1)}
    if counts.exists():
        figures.update(json.loads(counts.read_text()))
    done = re.search(r"Done (\d+) runs in (\d+) second", out)
    stat = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
    if stat:
        figures["executions"] = int(stat.group(1))
    elif done:
        figures["executions"] = int(done.group(1))
    cov = re.findall(r"cov: (\d+) ft: (\d+)", out)
    if cov:
        figures["coverage_edges"], figures["features"] = int(cov[-1][0]), int(cov[-1][1])
    crash_file = workdir / "crash-input.b64"
    figures["crashes"] = 1 if proc.returncode != 0 or crash_file.exists() else 0
    if figures["crashes"]:
        figures["crash_input_b64"] = crash_file.read_text() if crash_file.exists() else None
        figures["crash_log_tail"] = out[-3000:]
    if figures.get("executions", 0) < runs and not figures["crashes"]:
        figures["note"] = "fewer executions than requested"
    shutil.rmtree(workdir, ignore_errors=True)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"fuzz_{target}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=[*TARGETS, "all"])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["atheris", "hypothesis"], default=None)
    parser.add_argument("--child", metavar="WORKDIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    engine = args.engine
    if engine is None:
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    if args.child:
        workdir = Path(args.child)
        return child(args.target, args.runs, args.seed, engine, workdir / "counts.json", workdir)
    targets = TARGETS if args.target == "all" else (args.target,)
    failed = 0
    for target in targets:
        if target == "ime":
            try:
                import kiosk.ime.keyboard  # noqa: F401
            except ImportError:
                print("ime: kiosk.ime is not installed here; skipped")
                continue
        figures = run_target(target, args.runs, args.seed, engine)
        failed += figures["crashes"]
        summary = {k: v for k, v in figures.items() if k not in ("crash_log_tail",)}
        print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("LOBBY_CLOCK_SYNCED", "1")
    sys.exit(main())
