"""Checks that span sections: unique ids and references between them.

Pydantic validates each key; these rules need the whole file (a meter names a bus,
a route names checkpoints, two devices must not share an id or a pin). Each
problem is reported with the key path of the offending entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lobby.config.errors import Problem
from lobby.config.locate import did_you_mean
from lobby.config.model import Config


def _duplicates(section: str, ids: Iterable[str]) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, ident in enumerate(ids):
        if ident in seen:
            yield (f"{section}[{index}].id", f"duplicate id {ident!r} (first used at {section}[{seen[ident]}])")
        else:
            seen[ident] = index


def cross_checks(cfg: Config) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.extend

    # Device ids are alert keys and topic segments: unique within and across device kinds.
    device_sections = {
        "readers": [r.id for r in cfg.readers],
        "buses": [b.id for b in cfg.buses],
        "meters": [m.id for m in cfg.meters],
        "buttons": [b.id for b in cfg.buttons],
    }
    for section, ids in device_sections.items():
        add(_duplicates(section, ids))
    owner: dict[str, str] = {}
    for section, ids in device_sections.items():
        for index, ident in enumerate(ids):
            if ident in owner and owner[ident] != section:
                problems.append((f"{section}[{index}].id", f"duplicate device id {ident!r} (also used in {owner[ident]})"))
            owner.setdefault(ident, section)

    bus_ids = {b.id for b in cfg.buses}
    for index, meter in enumerate(cfg.meters):
        if meter.bus not in bus_ids:
            problems.append((f"meters[{index}].bus", f"unknown bus {meter.bus!r}{did_you_mean(meter.bus, bus_ids, True)} (define it under [[buses]])"))
    if cfg.meters or cfg.buses:  # the meter modules are imported only by a config that has meters
        add(_meter_checks(cfg))

    ports: dict[str, int] = {}
    for index, bus in enumerate(cfg.buses):
        if bus.port in ports:
            problems.append((f"buses[{index}].port", f"port {bus.port!r} is already used by buses[{ports[bus.port]}]"))
        ports.setdefault(bus.port, index)

    pins: dict[int, str] = {}
    claims: list[tuple[str, int | None]] = [("gpio.buzzer_pin", cfg.gpio.buzzer_pin), ("gpio.status_led_pin", cfg.gpio.status_led_pin)]
    for index, button in enumerate(cfg.buttons):
        claims += [(f"buttons[{index}].pin", button.pin), (f"buttons[{index}].led_pin", button.led_pin)]
    for path, pin in claims:
        if pin is None:
            continue
        if pin in pins:
            problems.append((path, f"GPIO {pin} is already used by {pins[pin]}"))
        else:
            pins[pin] = path

    patrol = cfg.patrol
    add(_duplicates("patrol.checkpoints", [c.id for c in patrol.checkpoints]))
    add(_duplicates("patrol.guards", [g.id for g in patrol.guards]))
    add(_duplicates("patrol.routes", [r.id for r in patrol.routes]))
    checkpoint_ids = {c.id for c in patrol.checkpoints}
    reader_ids = {r.id for r in cfg.readers}
    route_ids = {r.id for r in patrol.routes}
    tags: dict[str, str] = {}
    for index, cp in enumerate(patrol.checkpoints):
        if cp.reader is not None and cp.reader not in reader_ids:
            problems.append((f"patrol.checkpoints[{index}].reader", f"unknown reader {cp.reader!r}{did_you_mean(cp.reader, reader_ids, True)}"))
        if cp.tag_uid is not None:
            if cp.tag_uid in tags:
                problems.append((f"patrol.checkpoints[{index}].tag_uid", f"tag already used by checkpoint {tags[cp.tag_uid]!r}"))
            tags.setdefault(cp.tag_uid, cp.id)
    for index, guard in enumerate(patrol.guards):
        if guard.card_uid in tags:
            problems.append((f"patrol.guards[{index}].card_uid", f"card is also the tag of checkpoint {tags[guard.card_uid]!r}"))
    for index, route in enumerate(patrol.routes):
        for pos, cp_id in enumerate(route.checkpoints):
            if cp_id not in checkpoint_ids:
                problems.append((f"patrol.routes[{index}].checkpoints[{pos}]", f"unknown checkpoint {cp_id!r}{did_you_mean(cp_id, checkpoint_ids, True)}"))
    for index, sched in enumerate(patrol.schedules):
        if sched.route not in route_ids:
            problems.append((f"patrol.schedules[{index}].route", f"unknown route {sched.route!r}{did_you_mean(sched.route, route_ids, True)}"))
    for index, reader in enumerate(cfg.readers):
        if reader.checkpoint is not None and reader.checkpoint not in checkpoint_ids:
            problems.append((f"readers[{index}].checkpoint", f"unknown checkpoint {reader.checkpoint!r}{did_you_mean(reader.checkpoint, checkpoint_ids, True)}"))
    add(_patrol_checks(cfg))

    categories = set(cfg.tickets.categories)
    for index, button in enumerate(cfg.buttons):
        if button.role == "ticket" and button.category not in categories:
            problems.append((f"buttons[{index}].category", f"unknown category {button.category!r}{did_you_mean(button.category, categories, True)} (see tickets.categories)"))
    return problems


def _patrol_checks(cfg: Config) -> Iterator[Problem]:
    """Patrol rules beyond references: one checkpoint per reader, one guard per card."""
    patrol = cfg.patrol
    cards: dict[str, int] = {}
    for index, guard in enumerate(patrol.guards):
        if guard.card_uid in cards:
            yield (f"patrol.guards[{index}].card_uid", f"card already belongs to patrol.guards[{cards[guard.card_uid]}]")
        cards.setdefault(guard.card_uid, index)
    # A reader stands at one checkpoint, named from either side (checkpoint.reader or reader.checkpoint).
    at_reader: dict[str, str] = {}
    for index, cp in enumerate(patrol.checkpoints):
        if cp.reader is None:
            continue
        if cp.reader in at_reader:
            yield (f"patrol.checkpoints[{index}].reader",
                   f"reader {cp.reader!r} already stands at checkpoint {at_reader[cp.reader]!r}")
        at_reader.setdefault(cp.reader, cp.id)
    for index, reader in enumerate(cfg.readers):
        if reader.checkpoint is not None and reader.id in at_reader and at_reader[reader.id] != reader.checkpoint:
            yield (f"readers[{index}].checkpoint",
                   f"checkpoint {at_reader[reader.id]!r} names this reader; the two must agree")


def _meter_checks(cfg: Config) -> Iterator[Problem]:
    """Meters: map and points readable, billing/leak points present, one address per line, bus load."""
    from drivers.meters.points import POINTS, PointError, load_map
    from lobby.meters.points import billing_point, bindings

    by_bus: dict[tuple[str, str, str], int] = {}
    for index, meter in enumerate(cfg.meters):
        where = f"meters[{index}]"
        if meter.protocol == "modbus" and meter.map:
            try:
                load_map(meter.map)
            except PointError as exc:
                yield (f"{where}.map", str(exc))
                continue
        try:
            names = [b.name for b in bindings(meter)]
        except PointError as exc:
            yield (f"{where}.points", str(exc))
            continue
        if meter.billing_point is not None:
            point = POINTS.get(meter.billing_point)
            if point is None or not point.cumulative:
                yield (f"{where}.billing_point", f"{meter.billing_point!r} is not a cumulative point "
                       "(e.g. energy_import, energy_total, volume_total, heat_total)")
            elif meter.billing_point not in names:
                yield (f"{where}.billing_point",
                       f"{meter.billing_point!r} is not among the points read ({', '.join(names)})")
        if meter.leak_check and not {"volume_total", "flow_rate"} & set(names):
            yield (f"{where}.leak_check", "needs a water meter reading volume_total or flow_rate")
        if meter.max_jump_per_h is not None and billing_point(meter, names) is None \
                and not any(POINTS[n].cumulative for n in names):
            yield (f"{where}.max_jump_per_h", "the meter reads no cumulative point to check")
        address = meter.padded_address if meter.protocol != "modbus" else str(int(meter.address))
        key = (meter.bus, meter.protocol, address)
        if key in by_bus:
            yield (f"{where}.address", f"{meter.protocol} address {meter.address} is already used on bus "
                   f"{meter.bus!r} by meters[{by_bus[key]}]")
        by_bus.setdefault(key, index)
    yield from _bus_load(cfg)


def _bus_load(cfg: Config) -> Iterator[Problem]:
    """A line cannot carry more than its wire time: the meters' polls must fit their intervals."""
    from drivers.meters.points import PointError
    from lobby.meters.wiring import line_load

    for index, bus in enumerate(cfg.buses):
        meters = [m for m in cfg.meters if m.bus == bus.id]
        try:
            load = line_load(bus, meters)
        except (PointError, ValueError):
            continue  # reported against the meter itself
        if load > 1.0:
            yield (f"buses[{index}]", f"its meters need {load:.0%} of the line's time at {bus.baudrate} baud even "
                   "with instant replies: lengthen their interval_s, raise the baud rate or split the bus")