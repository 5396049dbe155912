"""`lobby watch`: print what central receives from a gateway, one line per message."""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time

from lobby.cli.common import add_config_argument, load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print raw messages as JSON lines")
    parser.add_argument("--host", help="broker host (default: from the config)")
    parser.add_argument("--port", type=int, help="broker port (default: from the config)")
    parser.add_argument("--username", help="login for watching (the gateway's own login may not read events)")
    parser.add_argument("--password-file", help="file holding the password for --username")
    parser.add_argument("--brief", action="store_true",
                        help="one line per event: no batch headings, no retained state/ copies of events")
    parser.add_argument("--count", type=int, default=0, help="exit after this many events (0: run until Ctrl-C)")
    parser.add_argument("--seconds", type=float, default=0, help="exit after this long (0: run until Ctrl-C)")


def _ranges(seqs: list[int]) -> str:
    from mqtt_bridge.budget import seq_ranges

    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in seq_ranges(seqs)[:10]]
    return ", ".join(parts) + (" ..." if len(seqs) > 10 else "")


def brief(text: str) -> str:
    """Without the lines that repeat an event: a batch's heading and the retained state/ copy."""
    return "\n".join(line for line in text.splitlines()
                     if not line.startswith("state/") and not (line.startswith("batch/") and " batch of " in line))


def run(args: argparse.Namespace) -> int:
    from mqtt_bridge.mqtt_client import build_client
    from mqtt_bridge.publisher import topics_for
    from mqtt_bridge.watch import SeqTracker, batch_items, describe

    cfg = load_or_explain(args)
    updates: dict[str, object] = {}
    if args.host:
        updates["host"] = args.host
    if args.port:
        updates["port"] = args.port
    if args.username:
        updates.update(username=args.username, password=None, password_file=args.password_file)
    if updates:
        cfg = cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update=updates)})
    topics = topics_for(cfg.bridge)
    messages: queue.SimpleQueue[tuple[str, bytes, bool]] = queue.SimpleQueue()
    client = build_client(cfg.bridge, topics, client_id=f"lobby-watch-{os.getpid()}")
    client.will_clear()
    client.on_message = lambda c, u, m: messages.put((m.topic, m.payload, bool(m.retain)))
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{topics.base}/#", qos=1)
    client.on_subscribe = lambda *a: print("watching", topics.base, file=sys.stderr, flush=True)
    try:
        client.connect(cfg.mqtt.host, cfg.mqtt.port, keepalive=30)
    except OSError as exc:
        from mqtt_bridge.mqtt_client import explain_connect_error

        print(explain_connect_error(exc, cfg.bridge), file=sys.stderr)
        return 1
    client.loop_start()
    tracker = SeqTracker()
    suspected: set[int] = set()
    started = last_check = time.monotonic()
    events = 0
    try:
        while True:
            if args.seconds and time.monotonic() - started >= args.seconds:
                break
            try:
                topic, payload, retained = messages.get(timeout=0.2)
            except queue.Empty:
                topic = ""
            if topic:
                note = ""
                try:  # events/<kind> carries one event, batch/<kind> many: each is tracked
                    items = batch_items(topic, payload, topics.base)
                    for envelope in items or ():
                        if not tracker.add(envelope):
                            note += f"  [duplicate #{envelope['seq']}]" if len(items or ()) > 1 else "  [duplicate]"
                        events += 1
                except (ValueError, KeyError, TypeError):
                    note = "  [malformed envelope]"
                if args.json:
                    print(json.dumps({"topic": topic, "retained": retained,
                                      "payload": payload.decode("utf-8", "replace")}, ensure_ascii=False))
                else:
                    text = describe(topic, payload, topics.base) + (" (retained)" if retained else "") + note
                    text = brief(text) if args.brief else text
                    if text:
                        print(text)
                sys.stdout.flush()
                if args.count and events >= args.count:
                    break
            if time.monotonic() - last_check >= 5:
                last_check = time.monotonic()
                missing = set(tracker.missing())
                confirmed = sorted(missing & suspected)  # missing on two checks in a row: a real gap
                if confirmed and not args.json:
                    print(f"!! seq gap: {len(confirmed)} event(s) missing: {_ranges(confirmed)}", file=sys.stderr)
                suspected = missing
    except KeyboardInterrupt:
        pass
    finally:
        client.loop_stop()
        client.disconnect()
    missing = tracker.missing()
    summary = (f"watched {tracker.received} events: {tracker.unique} unique, {tracker.duplicates} duplicate(s), "
               f"{tracker.dropped_announced} announced dropped, {len(missing)} missing"
               + (f" ({_ranges(missing)})" if missing else ""))
    print(summary, file=sys.stderr)
    return 0
