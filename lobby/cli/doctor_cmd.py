"""`lobby doctor`: check this Pi, the devices, the broker and the store, in plain words.

Every line says what was found and, when something is wrong, what to do. Exit 0
only when nothing failed (warnings are shown but do not fail); `--json` for tools.
Each check has its own time limit and they run side by side: the whole run takes
at most about 15 s, even with every device and the broker gone.

Devices that a running service has open (meters and readers of lobby-gateway,
the printer and the kiosk's reader) are left alone unless `--devices yes`.
"""

from __future__ import annotations

import argparse
import os
import json
import logging
import sys
import time
from pathlib import Path

from lobby.config import ConfigError, load_config
from lobby.cli.common import add_config_argument

_MARK = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--only", metavar="NAMES", default="",
                        help="run only these checks, comma separated: store, disk, serial, meter, nfc, gpio, "
                             "printer, broker, clock, fonts, backups (or e.g. 'serial rs485-1'); 'started' (only when "
                             "named): the gateway started on this release and the broker acknowledged it")
    parser.add_argument("--devices", choices=("auto", "yes", "no"), default="auto",
                        help="open the devices: auto (not those a running service has open), yes, or no")


SERVICE_USER = "lobby"  # install.sh's LOBBY_USER


def refuse_root() -> str | None:
    """The doctor reads the broker password and opens devices: as the service user, never as root
    (root would read files the lobby user chose). Where the service user exists, root is refused."""
    import pwd

    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None  # a development machine without the service: nothing to hand over to
    return (f"lobby doctor does not run as root: it reads the broker password and the config, which the "
            f"{SERVICE_USER} user can change. Run it as the service user: sudo -u {SERVICE_USER} lobby doctor")


def run(args: argparse.Namespace) -> int:
    from lobby.doctor import Context, Result, Status, run_checks
    from lobby.doctor.runner import plan

    refused = refuse_root()
    if refused is not None:
        print(refused, file=sys.stderr)
        return 2

    started = time.monotonic()
    if args.log_level:
        logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    else:  # the drivers' own warnings would repeat what the lines below say
        logging.getLogger().addHandler(logging.NullHandler())
    path = Path(args.config)
    salvaged = None
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        from lobby.doctor.salvage import salvage

        salvaged = salvage(path)
        cfg = salvaged.cfg
        config_line = Result("config", Status.FAIL, "The configuration cannot be used: " + "; ".join(
            exc.described()) + ".", _config_fix(path, salvaged))
    else:
        config_line = Result("config", Status.OK,
                             f"The configuration {path} is valid (version {cfg.version}, site {cfg.site.site_id}, "
                             f"gateway {cfg.site.gateway_id}).")
        owner_problem = _config_owner_problem(cfg, path)
        if owner_problem:
            config_line = Result("config", Status.WARN, config_line.message + " " + owner_problem,
                                 f"sudo chown {cfg_owner_hint(cfg)} {path}")
    only = [part for part in args.only.split(",") if part.strip() and part.strip() != "config"]
    skipped = _not_checkable(salvaged, only)
    if only and not plan(cfg, only) and not skipped:
        print(f"lobby doctor: no check matches --only {args.only!r}; the checks are: config, store, disk, serial "
              "(and its meters), nfc, gpio, printer, broker, clock, fonts, backups, started", file=sys.stderr)
        return 2
    only_config = bool(args.only.strip()) and not only
    results = [] if only_config else run_checks(Context(cfg, path, args.devices), only, skip_modules=set(skipped))
    results += [skipped[name] for name in skipped]
    results = ([] if only and "config" not in args.only else [config_line]) + results
    _print(results, args, path, started)
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def _config_fix(path: Path, salvaged) -> str:  # noqa: ANN001 - a Salvage
    fix = f"Edit {path}; `lobby config check {path}` lists every problem with its line and key."
    if "everything" in salvaged.dropped:
        return fix + (" Nothing of the file could be used: the disk, clock, store and backups were checked at the "
                      "installed defaults; devices and the broker were not checked.")
    gone = sorted(salvaged.dropped)
    if gone:
        return fix + " The other checks ran on the rest of the file; not checked because their part of the file " \
                     "is invalid: " + ", ".join(f"[{s}]" for s in gone) + "."
    return fix + " The other checks ran with the defaults for the keys in error."


def _not_checkable(salvaged, only: list[str]) -> dict:  # noqa: ANN001 - a Salvage or None
    """A skip line for each check whose part of the config had to be left out (only when invalid)."""
    from lobby.doctor.base import Result, Status
    from lobby.doctor.runner import CHECKS, module_name

    if salvaged is None:
        return {}
    out = {}
    aliases = {"meter": "serial", "meters": "serial", "reader": "nfc", "readers": "nfc", "mqtt": "broker"}
    wanted = {aliases.get(w.strip().split(" ")[0].lower(), w.strip().split(" ")[0].lower()) for w in only}
    for module in CHECKS:
        name = module_name(module)
        missing = salvaged.unusable(name)
        if name == "clock" or not missing or (wanted and name not in wanted):
            continue
        out[name] = Result(name, Status.SKIP, f"Not checked: {', '.join(missing)} in the configuration "
                                              "cannot be used (see the config line).")
    return out


def _config_owner_problem(cfg, path: Path) -> str:  # noqa: ANN001 - a Config
    """config.update replaces the file as the service user: it must own it (in the sticky /etc/lobby)."""
    if not cfg.security.allow_remote_config:
        return ""
    try:
        file_uid = path.stat().st_uid
        service_uid = Path(cfg.state_dir).stat().st_uid
    except OSError:
        return ""
    if file_uid != service_uid and file_uid == 0:
        return ("But it belongs to root, not to the service user, so a config.update from central cannot "
                "replace it.")
    return ""


def cfg_owner_hint(cfg) -> str:  # noqa: ANN001 - a Config
    try:
        st = Path(cfg.state_dir).stat()
        import grp
        import pwd

        return f"{pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name}"
    except (OSError, KeyError):
        return "lobby:lobby"


def _print(results: list, args: argparse.Namespace, path: Path, started: float) -> None:  # noqa: ANN001
    failed = sum(r.status.value == "fail" for r in results)
    warned = sum(r.status.value == "warn" for r in results)
    passed = sum(r.status.value == "ok" for r in results)
    if args.json:
        print(json.dumps({"ok": failed == 0, "config": str(path), "seconds": round(time.monotonic() - started, 3),
                          "checks": [r.as_dict() for r in results]}, ensure_ascii=False))
        return
    out = sys.stdout
    print(f"lobby doctor: {path}", file=out)
    width = max((len(r.check) for r in results), default=6)
    for r in results:
        print(f"  {_MARK[r.status.value]:4}  {r.check:{width}}  {r.message}", file=out)
        if r.fix and r.status.value in ("fail", "warn"):
            print(f"  {'':4}  {'':{width}}  Fix: {r.fix}", file=out)
    summary = f"{passed} passed, {failed} failed, {warned} warning{'s' if warned != 1 else ''}"
    verdict = "everything needed works" if failed == 0 else "fix the FAIL lines above, then run `lobby doctor` again"
    print(f"{summary} ({time.monotonic() - started:.1f} s): {verdict}.", file=out)
