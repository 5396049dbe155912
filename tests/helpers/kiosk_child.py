"""The kiosk's storage side as a process that can be SIGKILLed: lobby actions in a loop.

    python -m tests.helpers.kiosk_child CONFIG SEED PHONE_BASE

Each action goes through the same lobby services the touchscreen calls; a line
`["<event type>", "<id>"]` is printed (and flushed) only after the service said the
action was saved, which is the moment the kiosk would show "done" to the visitor.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lobby.config import load_config
from tests.helpers.lobby_load import LobbyProducer


def main(argv: list[str]) -> int:
    cfg = load_config(argv[0])
    producer = LobbyProducer(Path(cfg.state_dir) / cfg.store.path, cfg, seed=int(argv[1]),
                             phone_base=int(argv[2]))
    told = 0
    while True:
        producer.act_once()
        while told < len(producer.acked):
            print(json.dumps(producer.acked[told]), flush=True)
            told += 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
