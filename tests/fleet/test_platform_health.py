"""The Pi's own health: throttled flags, SD card and file-system errors, read-only remounts.

Parsers are checked on their own (the throttled bits property-based); one test feeds a
fixture under-voltage to a gateway bridge on a real mosquitto and central gets the
retained alert, which clears when the fixture says the voltage is good again."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from lobby.config import load_config
from lobby.gateway.health import HealthMonitor
from lobby.gateway.platform import (FLAGS, PlatformHealth, PlatformSources, decode_throttled, mount_of,
                                    parse_throttled, storage_errors)
from lobby.runtime import Runtime
from mqtt_bridge.alerts import AlertEngine
from mqtt_bridge.store import Store
from mqtt_bridge.timebase import BOOT_ID
from tests.helpers.broker import Broker
from tests.helpers.central import Central

flags = st.integers(min_value=0, max_value=0xFFFFF)


@given(flags)
def test_every_throttled_bit_is_read_now_and_since_boot(value: int) -> None:
    for text in (f"throttled=0x{value:x}\n", f"{value:x}\n", f"throttled=0x{value:X}"):
        decoded = decode_throttled(parse_throttled(text))
        for bit, name in FLAGS.items():
            assert decoded[f"{name}_now"] == bool(value & (1 << bit))
            assert decoded[f"{name}_since_boot"] == bool(value & (1 << (bit + 16)))
        assert int(decoded["raw"], 16) == value


@given(st.sets(st.sampled_from(sorted(FLAGS)), min_size=0), st.sets(st.sampled_from(sorted(FLAGS))))
def test_flags_now_and_since_boot_are_independent(now: set[int], since: set[int]) -> None:
    value = sum(1 << b for b in now) | sum(1 << (b + 16) for b in since)
    decoded = decode_throttled(value)
    assert {b for b, n in FLAGS.items() if decoded[f"{n}_now"]} == now
    assert {b for b, n in FLAGS.items() if decoded[f"{n}_since_boot"]} == since


def test_known_firmware_values() -> None:
    assert decode_throttled(parse_throttled("throttled=0x50005"))["undervoltage_now"] is True
    assert decode_throttled(parse_throttled("throttled=0x50000"))["undervoltage_now"] is False
    assert decode_throttled(parse_throttled("throttled=0x50000"))["undervoltage_since_boot"] is True
    assert decode_throttled(parse_throttled("0"))["raw"] == "0x0"


KERNEL_LOG = """\
[    1.2] mmc0: new ultra high speed DDR50 SDHC card at address 0001
[    1.3] mmcblk0: mmc0:0001 SD32G 29.7 GiB
[  500.0] mmc0: timeout waiting for hardware interrupt.
[  500.1] mmcblk0: error -110 transferring data, sector 1234, nr 8, cmd response 0x900, card status 0xb00
[  500.2] I/O error, dev mmcblk0, sector 1234 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 2
[  500.3] EXT4-fs error (device mmcblk0p2): ext4_find_entry:1658: inode #2: comm lobby: reading directory lblock 0
[  500.4] usb 1-1.2: new full-speed USB device number 4 using xhci_hcd
"""


def test_storage_errors_are_counted_and_card_notices_are_not() -> None:
    assert storage_errors(KERNEL_LOG.splitlines()) == {"mmc": 2, "ext4": 1, "io": 1}
    kmsg = ["6,812,500000000,-;EXT4-fs error (device mmcblk0p2): ext4_lookup:1812: deleted inode"]
    assert storage_errors(kmsg) == {"mmc": 0, "ext4": 1, "io": 0}
    assert storage_errors(["usb 1-1: new device", "mmc0: new high speed SDHC card at address aaaa"]) == \
        {"mmc": 0, "ext4": 0, "io": 0}


MOUNTINFO = """\
22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/root rw
25 22 179:1 / /boot/firmware rw,relatime shared:2 - vfat /dev/mmcblk0p1 rw
31 22 179:3 / /var/lib/lobby ro,noatime shared:3 - ext4 /dev/mmcblk0p3 ro,errors=remount-ro
40 22 0:30 / /var/lib/lobby\\040spare rw - tmpfs tmpfs rw
"""


def test_the_mount_holding_the_state_dir_and_its_read_only_flag() -> None:
    state = mount_of("/var/lib/lobby/store", MOUNTINFO)
    assert state == {"mount_point": "/var/lib/lobby", "fs_type": "ext4", "device": "/dev/mmcblk0p3",
                     "read_only": True}
    assert mount_of("/etc/lobby", MOUNTINFO)["read_only"] is False
    assert mount_of("/var/lib/lobby spare/x", MOUNTINFO)["fs_type"] == "tmpfs"


def _sources(tmp_path: Path, throttled: str, log: str = "", mountinfo: str = MOUNTINFO) -> PlatformSources:
    (tmp_path / "throttled").write_text(throttled)
    (tmp_path / "kmsg").write_text(log)
    (tmp_path / "mountinfo").write_text(mountinfo)
    return PlatformSources(throttled_file=str(tmp_path / "throttled"), vcgencmd=None, kmsg=str(tmp_path / "kmsg"),
                           journalctl=None, mountinfo=str(tmp_path / "mountinfo"))


def test_storage_and_read_only_alerts_raise_and_clear(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    alerts = AlertEngine(store)
    platform = PlatformHealth(alerts, _sources(tmp_path, "0", KERNEL_LOG))
    report = platform.check("/var/lib/lobby")
    assert report["storage_errors"] == {"new": {"mmc": 2, "ext4": 1, "io": 1},
                                        "since_boot": {"mmc": 2, "ext4": 1, "io": 1}}
    assert report["state_mount"]["read_only"] is True and report["boot_id"] == BOOT_ID
    assert alerts.get("storage.errors")["state"] == "active"
    read_only = alerts.get("storage.read_only")
    assert read_only["state"] == "active" and "replace the SD card" in json.loads(read_only["detail"])["fix"]
    (tmp_path / "mountinfo").write_text(MOUNTINFO.replace("ro,noatime", "rw,noatime").replace("ro,errors", "rw,errors"))
    again = platform.check("/var/lib/lobby")
    assert again["storage_errors"]["new"] == {"mmc": 0, "ext4": 0, "io": 0}  # counted once
    assert again["storage_errors"]["since_boot"]["mmc"] == 2
    assert alerts.get("storage.read_only")["state"] == "cleared"
    store.close()


def test_a_fixture_undervoltage_reaches_central_as_a_retained_alert(broker: Broker, write_config,  # noqa: ANN001
                                                                     tmp_path: Path) -> None:
    path = write_config(broker.port)
    rt = Runtime(load_config(path), path)
    sources = _sources(tmp_path, "throttled=0x50005\n", mountinfo="")
    monitor = HealthMonitor(rt.cfg, rt.store, rt.alerts, lambda: True, list,
                            platform=PlatformHealth(rt.alerts, sources))
    central = Central(broker.port, rt.cfg.base_topic)
    topic = f"{rt.cfg.base_topic}/alerts/power.undervoltage"
    rt.start()
    try:
        report = monitor.run_once()
        assert report["power"]["undervoltage_now"] and report["power"]["throttled_now"]
        central.wait_for(lambda: topic in central.retained, what="the undervoltage alert")
        alert = json.loads(central.retained[topic])
        assert alert["state"] == "active" and alert["detail"]["undervoltage_since_boot"] is True
        assert "official Raspberry Pi power supply" in alert["detail"]["fix"]
        central.wait_for(lambda: any(e["type"] == "health.report" and e["data"].get("power") for e in central.events),
                         what="the health report with the flags")
        late = Central(broker.port, rt.cfg.base_topic)  # retained: a later subscriber sees it too
        try:
            late.wait_for(lambda: topic in late.retained, what="the retained alert")
        finally:
            late.close()
        (tmp_path / "throttled").write_text("throttled=0x50000\n")  # good now, bad since boot
        monitor.run_once()
        central.wait_for(lambda: json.loads(central.retained[topic] or b'{"state": "gone"}')["state"] == "cleared",
                         what="the alert cleared")
    finally:
        rt.stop()
        central.close()
    assert central.invalid == []
