"""Which retained state topic a live bulk event keeps current, for Home Assistant.

Bulk telemetry travels in batches (`<base>/batch/<kind>`), which a Home Assistant
sensor cannot read with a value template. So the bridge also publishes the newest
live (not historical) event of each subject, retained, on `<base>/state/<subject>`:
`state/meter/<meter_id>` for meter readings and `state/health/gateway` for the
gateway's health report. The payload is the event's own envelope. The discovery
document (lobby/discovery.py) points the sensors at these topics; they are
published while `mqtt.discovery.enabled` is on.

Kept apart from lobby/discovery.py so the runtime does not import the meter tables.
"""

from __future__ import annotations

import json
import re

from mqtt_bridge.store.outbox import EventRecord

_SEGMENT = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?\Z")  # envelope.json's id pattern
HEALTH_SUBJECT = "health/gateway"


def meter_subject(meter_id: str) -> str:
    return f"meter/{meter_id}"


def state_subject(record: EventRecord) -> str | None:
    """The subject a live bulk event is the newest state of, or None."""
    if record.type == "meter.reading":
        meter_id = json.loads(record.data).get("meter_id")
        return meter_subject(meter_id) if isinstance(meter_id, str) and _SEGMENT.match(meter_id) else None
    if record.type == "health.report":
        return HEALTH_SUBJECT
    return None
