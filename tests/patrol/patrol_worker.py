"""A separate OS process scanning patrol taps into a shared store (the kiosk or the gateway side).

Usage: python -m tests.patrol.patrol_worker CONFIG ROLE CARD...
  kiosk:   taps each guard card at the lobby reader (twice: the second is a repeat), ticking in between;
           the next guard starts once the previous one has reached B1 (so both processes write at once),
           and the kiosk keeps ticking until every round is closed
  gateway: for each guard whose lobby taps are in the store, taps B1, then the handheld (card, stairs tag,
           card, roof tag), round-robin over the guards, ticking in between
Prints "done <scans>" at the end.
"""

from __future__ import annotations

import sys
import time

from lobby.config import load_config, state_path
from lobby.patrol import PatrolEngine
from mqtt_bridge.store import Store

STAIRS, ROOF = "04A1B2C3D4E502", "04A1B2C3D4E503"


def _wait(store: Store, sql: str, params: tuple[str, ...]) -> None:
    deadline = time.monotonic() + 60
    while not store.scalar(sql, params):
        if time.monotonic() > deadline:
            raise TimeoutError(sql)
        time.sleep(0.005)  # pacing only: waiting for the other process, not for a patrol deadline


def main() -> None:
    config, role, cards = sys.argv[1], sys.argv[2], sys.argv[3:]
    cfg = load_config(config)
    store = Store(state_path(cfg, cfg.store.path), busy_timeout_ms=30_000)
    engine = PatrolEngine(cfg, store)
    guard_of = {g.card_uid: g.id for g in cfg.patrol.guards}
    scans = 0
    if role == "kiosk":
        for index, card in enumerate(cards):
            if index:
                _wait(store, "SELECT 1 FROM patrol_scans WHERE guard_id = ? AND checkpoint_id = 'cp-b1'",
                      (guard_of[cards[index - 1]],))
            engine.scan(card, "nfc-lobby")
            engine.tick()
            engine.scan(card, "nfc-lobby")
            scans += 2
        deadline = time.monotonic() + 60
        while store.scalar("SELECT count(*) FROM patrol_rounds WHERE state = 'closed'") < len(cards):
            engine.tick()
            if time.monotonic() > deadline:
                raise TimeoutError("rounds did not close")
    else:
        steps = [[("nfc-b1", None)], [("nfc-hand", None), ("nfc-hand", STAIRS)], [("nfc-hand", None), ("nfc-hand", ROOF)]]
        progress = {card: 0 for card in cards}
        while any(n < len(steps) for n in progress.values()):
            for card in cards:
                n = progress[card]
                if n >= len(steps):
                    continue
                lobby = store.scalar("SELECT count(*) FROM patrol_scans WHERE guard_id = ? AND checkpoint_id = 'cp-lobby'",
                                     (guard_of[card],))
                if lobby < 2:  # the guard's lobby tap and its repeat (a later lobby tap would start a new round)
                    continue
                for reader, uid in steps[n]:
                    engine.scan(uid or card, reader)  # None: the guard's own card
                    scans += 1
                progress[card] = n + 1
                engine.tick()
    store.close()
    print(f"done {scans}", flush=True)


if __name__ == "__main__":
    main()
