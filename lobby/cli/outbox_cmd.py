"""`lobby outbox`: what is waiting to go to central, how fast it moves, the last error."""

from __future__ import annotations

import argparse
import json
import time

from lobby.config import state_path
from mqtt_bridge.store import Store
from mqtt_bridge.store.outbox import depth, last_seq
from mqtt_bridge.timebase import parse_rfc3339, utc_now
from lobby.cli.common import add_config_argument, load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds to sample rates over (default 1)")
    parser.add_argument("--json", action="store_true")


def _published(store: Store) -> int:
    return int(store.scalar("SELECT value FROM counters WHERE name = 'published'") or 0)


def _age(ts: str | None) -> float | None:
    return None if ts is None else max(0.0, (utc_now() - parse_rfc3339(ts)).total_seconds())


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def run(args: argparse.Namespace) -> int:
    cfg = load_or_explain(args)
    with Store(state_path(cfg, cfg.store.path), cfg.store.busy_timeout_ms) as store:
        conn = store.connection()
        seq0, pub0, t0 = last_seq(conn), _published(store), time.monotonic()
        time.sleep(max(0.0, args.interval))
        seq1, pub1, t1 = last_seq(conn), _published(store), time.monotonic()
        lanes = depth(conn)
        bridge = json.loads(store.get_meta("bridge.status") or "{}")
    elapsed = max(t1 - t0, 1e-6)
    info = {
        "lanes": {lane.name.lower(): {"rows": d.rows, "oldest_seq": d.oldest_seq, "oldest_age_s": _age(d.oldest_ts)}
                  for lane, d in lanes.items()},
        "last_seq": seq1,
        "produced_per_s": (seq1 - seq0) / elapsed,
        "published_per_s": (pub1 - pub0) / elapsed,
        "bridge": bridge,
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{'lane':10} {'rows':>10} {'oldest seq':>12} {'oldest age':>12}")
    for name, lane in info["lanes"].items():
        print(f"{name:10} {lane['rows']:>10} {lane['oldest_seq'] or '-':>12} {_hms(lane['oldest_age_s']):>12}")
    print(f"last seq {seq1}; produced {info['produced_per_s']:.1f}/s, published {info['published_per_s']:.1f}/s "
          f"(over {elapsed:.1f} s)")
    if bridge:
        print(f"bridge (as of {bridge.get('ts')}): link {bridge.get('link')}, {bridge.get('connects')} connect(s)")
        if bridge.get("last_error"):
            print(f"last error at {bridge.get('last_error_ts')}: {bridge['last_error']}")
    else:
        print("bridge: has not reported yet (is `lobby gateway` or `lobby bridge` running?)")
    return 0
