"""install.sh in --root mode: the right files in the right places, idempotent, clean uninstall."""

from __future__ import annotations

from pathlib import Path

from deploy_helpers import REPO, SYSTEMD, run_install, tree_snapshot

CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=0c4b-02 rootfstype=ext4 fsck.repair=yes rootwait\n"


def _pi_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/cmdline.txt").write_text(CMDLINE)
    return root


def test_install_puts_every_file_in_place_and_touches_nothing_else(tmp_path: Path) -> None:
    root = _pi_root(tmp_path)
    done = run_install("--root", str(root))
    out = done.stdout
    for unit in ("lobby-gateway.service", "lobby-kiosk.service", "lobby-purge.service", "lobby-purge.timer",
                 "lobby-backup.service", "lobby-backup.timer"):
        assert (root / "etc/systemd/system" / unit).read_bytes() == (SYSTEMD / unit).read_bytes()
    assert (root / "etc/udev/rules.d/99-lobby.rules").read_bytes() == (SYSTEMD / "udev/99-lobby.rules").read_bytes()
    assert (root / "etc/udev/rules.d/90-lobby-site.rules").exists()
    blacklist = (root / "etc/modprobe.d/lobby-blacklist-pn533.conf").read_text()
    assert all(f"blacklist {m}\n" in blacklist for m in ("pn533_usb", "pn533", "nfc"))
    assert (root / "etc/lobby/lobby.toml").read_bytes() == (REPO / "config/example.toml").read_bytes()
    assert oct((root / "etc/lobby").stat().st_mode & 0o7777) == "0o1770"
    assert oct((root / "etc/lobby/lobby.toml").stat().st_mode & 0o777) == "0o640"
    assert (root / "var/lib/lobby/backups").is_dir()
    assert (root / "usr/local/bin/lobby").is_symlink()
    dropin = (root / "etc/systemd/system/lobby-purge.timer.d/purge-at.conf").read_text()
    assert "OnCalendar=*-*-* 03:30:00 Asia/Shanghai" in dropin  # [privacy] purge_at in the site's zone
    assert (root / "boot/firmware/cmdline.txt").read_text() == CMDLINE.rstrip("\n") + " consoleblank=0\n"
    # side effects are only described
    for expected in ("apt-get install -y", "python3-lgpio", "libfreefare-dev",
                     "would run: useradd --system", "would run: usermod --append --groups",
                     "would run: python3 -m venv /opt/lobby", "would run: systemctl enable",
                     "lobby-gateway.service", "lobby-kiosk.service", "would run: udevadm control --reload"):
        assert expected in out, expected
    assert set(p.name for p in root.iterdir()) == {"boot", "etc", "opt", "usr", "var"}


def test_install_turns_the_hardware_watchdog_on(tmp_path: Path) -> None:
    root = _pi_root(tmp_path)
    out = run_install("--root", str(root)).stdout
    assert (root / "etc/systemd/system/lobby-failed@.service").read_bytes() == \
        (SYSTEMD / "lobby-failed@.service").read_bytes()
    dropin = root / "etc/systemd/system.conf.d/lobby-watchdog.conf"
    assert dropin.read_bytes() == (SYSTEMD / "system.conf.d/lobby-watchdog.conf").read_bytes()
    assert (root / "etc/modules-load.d/lobby-watchdog.conf").read_text() == "bcm2835_wdt\n"
    assert "would run: modprobe bcm2835_wdt" in out and "would run: systemctl daemon-reexec" in out
    run_install("--root", str(root), "--uninstall")
    assert not dropin.exists() and not (root / "etc/modules-load.d/lobby-watchdog.conf").exists()


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    root = _pi_root(tmp_path)
    run_install("--root", str(root))
    before = tree_snapshot(root)
    second = run_install("--root", str(root))
    assert tree_snapshot(root) == before  # paths, modes, contents, mtimes, inodes, link targets
    assert "nothing changed" in second.stdout
    assert "installed " not in second.stdout


def test_the_site_config_is_never_overwritten_and_upgrades_replace_units(tmp_path: Path) -> None:
    root = _pi_root(tmp_path)
    run_install("--root", str(root))
    config = root / "etc/lobby/lobby.toml"
    site_rules = root / "etc/udev/rules.d/90-lobby-site.rules"
    config.write_text(config.read_text().replace('purge_at = "03:30"', 'purge_at = "02:15"'))
    site_rules.write_text("# this site's adapters\n")
    unit = root / "etc/systemd/system/lobby-gateway.service"
    unit.write_text(unit.read_text() + "\n# an old version\n")
    done = run_install("--root", str(root))
    assert 'purge_at = "02:15"' in config.read_text()
    assert site_rules.read_text() == "# this site's adapters\n"
    assert unit.read_bytes() == (SYSTEMD / "lobby-gateway.service").read_bytes()
    assert "OnCalendar=*-*-* 02:15:00 Asia/Shanghai" in \
        (root / "etc/systemd/system/lobby-purge.timer.d/purge-at.conf").read_text()
    assert "installed /etc/systemd/system/lobby-gateway.service" in done.stdout


def test_gateway_role_and_cage_mode(tmp_path: Path) -> None:
    root = _pi_root(tmp_path)
    gateway = run_install("--root", str(root), "--role", "gateway").stdout
    assert "libgbm1" not in gateway and "lobby-kiosk.service" not in gateway.split("systemctl enable")[1].split("\n")[0]
    cage = run_install("--root", str(root), "--kiosk-mode", "cage").stdout
    assert "cage xwayland" in cage
    assert (root / "etc/systemd/system/lobby-kiosk.service.d/cage.conf").exists()
    run_install("--root", str(root))
    assert not (root / "etc/systemd/system/lobby-kiosk.service.d").exists()


def test_uninstall_leaves_the_data_unless_asked(tmp_path: Path) -> None:
    root = _pi_root(tmp_path)
    run_install("--root", str(root))
    (root / "var/lib/lobby/lobby.db").write_bytes(b"the store")
    (root / "opt/lobby/bin").mkdir(parents=True)
    (root / "opt/lobby/bin/lobby").write_text("#!/bin/sh\n")
    site_rules = (root / "etc/udev/rules.d/90-lobby-site.rules").read_text()
    done = run_install("--root", str(root), "--uninstall")
    assert "would run: userdel lobby" in done.stdout and "would run: systemctl disable --now" in done.stdout
    assert not list((root / "etc/systemd/system").glob("lobby-*"))
    # issue #13: the site's rules stay in root's own folder, never copied into /etc/lobby
    assert [p.name for p in (root / "etc/udev/rules.d").glob("*lobby*")] == ["90-lobby-site.rules"]
    assert not (root / "etc/modprobe.d/lobby-blacklist-pn533.conf").exists()
    assert not (root / "opt/lobby").exists() and not (root / "usr/local/bin/lobby").is_symlink()
    assert (root / "var/lib/lobby/lobby.db").read_bytes() == b"the store"
    assert (root / "etc/lobby/lobby.toml").exists()
    assert not (root / "etc/lobby/udev-90-lobby-site.rules").exists()

    run_install("--root", str(root))  # a re-install finds the site's udev names where they were
    assert (root / "etc/udev/rules.d/90-lobby-site.rules").read_text() == site_rules
    run_install("--root", str(root), "--uninstall", "--purge-data")
    assert not (root / "var/lib/lobby").exists() and not (root / "etc/lobby").exists()


def test_a_udev_rule_the_lobby_user_could_write_is_never_installed(tmp_path: Path) -> None:
    """Issue #13, a local unprivileged user: /etc/lobby is writable by the lobby user, so a rule
    left there (the old uninstall kept one) must never reach /etc/udev/rules.d, where root runs it."""
    root = _pi_root(tmp_path)
    (root / "etc/lobby").mkdir(parents=True, exist_ok=True)
    evil = 'ACTION=="add", RUN+="/bin/sh -c \'id > /tmp/owned\'"\n'
    (root / "etc/lobby/udev-90-lobby-site.rules").write_text(evil)
    done = run_install("--root", str(root))
    installed = (root / "etc/udev/rules.d/90-lobby-site.rules").read_text()
    assert "owned" not in installed
    assert installed == (SYSTEMD / "udev/90-lobby-site.rules").read_text()
    assert "ignored /etc/lobby/udev-90-lobby-site.rules" in done.stderr


def test_a_sample_staff_card_is_refused(tmp_path: Path) -> None:
    root = _pi_root(tmp_path)
    run_install("--root", str(root))
    conf = root / "etc/lobby/lobby.toml"
    conf.write_text(conf.read_text().replace("staff_cards = []", 'staff_cards = ["5A3B9C01"]'))
    refused = run_install("--root", str(root), check=False)
    assert refused.returncode == 1 and "sample staff card" in refused.stderr


def test_bad_options_are_refused(tmp_path: Path) -> None:
    assert run_install("--root", str(tmp_path / "r"), "--role", "toaster", check=False).returncode == 64
    assert run_install("--bogus", check=False).returncode == 64
    assert "Re-running upgrades" in run_install("--help").stdout


def test_the_sites_time_servers_go_to_timesyncd_and_away_again(tmp_path: Path) -> None:
    """[time] ntp_servers (a site that blocks public NTP) becomes systemd-timesyncd's NTP= (issue #19)."""
    root = _pi_root(tmp_path)
    first = run_install("--root", str(root))
    dropin = root / "etc/systemd/timesyncd.conf.d/lobby-ntp.conf"
    assert not dropin.exists() and "systemd-timesyncd" not in first.stdout  # none configured: the image's defaults
    config = root / "etc/lobby/lobby.toml"
    config.write_text(config.read_text().replace("ntp_servers = []", 'ntp_servers = ["10.0.0.1", "ntp.site.example"]'))
    done = run_install("--root", str(root))
    assert "[Time]\nNTP=10.0.0.1 ntp.site.example\n" in dropin.read_text()
    assert "would run: systemctl restart systemd-timesyncd" in done.stdout
    before = tree_snapshot(root)
    again = run_install("--root", str(root))
    assert tree_snapshot(root) == before and "systemd-timesyncd" not in again.stdout
    config.write_text(config.read_text().replace('ntp_servers = ["10.0.0.1", "ntp.site.example"]', "ntp_servers = []"))
    cleared = run_install("--root", str(root))
    assert not dropin.exists() and "would run: systemctl restart systemd-timesyncd" in cleared.stdout
    config.write_text(config.read_text().replace("ntp_servers = []", 'ntp_servers = ["10.0.0.1"]'))
    run_install("--root", str(root))
    run_install("--root", str(root), "--uninstall")
    assert not dropin.exists()


def _uart_root(tmp_path: Path, connstring: str, config_txt: str = "") -> Path:
    root = _pi_root(tmp_path)
    (root / "boot/firmware/config.txt").write_text(config_txt)
    conf = root / "etc/lobby/lobby.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text((REPO / "config/example.toml").read_text().replace(
        'connstring = "pn532_uart:/dev/lobby-nfc"', f'connstring = "{connstring}"', 1))
    return root


def test_a_reader_on_the_uart_takes_the_serial_console_off(tmp_path: Path) -> None:
    root = _uart_root(tmp_path, "pn532_uart:/dev/ttyAMA0")
    out = run_install("--root", str(root)).stdout
    assert "would run: raspi-config nonint do_serial_cons 1" in out  # console=serial0,115200 off
    assert "would run: raspi-config nonint do_serial_hw 0" in out  # enable_uart=1
    assert "/dev/ttyAMA0" in out
    # raspi-config edits cmdline.txt on the Pi; under --root it only is described
    assert (root / "boot/firmware/cmdline.txt").read_text() == CMDLINE.rstrip("\n") + " consoleblank=0\n"


def test_serial0_reader_with_console_already_off_and_uart_on_changes_nothing_more(tmp_path: Path) -> None:
    root = _uart_root(tmp_path, "pn532_uart:/dev/serial0", config_txt="[all]\nenable_uart=1\n")
    (root / "boot/firmware/cmdline.txt").write_text("console=tty1 root=PARTUUID=0c4b-02 rootwait\n")
    out = run_install("--root", str(root)).stdout
    assert "raspi-config" not in out


def test_no_uart_reader_leaves_the_serial_console(tmp_path: Path) -> None:
    for connstring in ("pn532_uart:/dev/lobby-nfc", "pn532_uart:/dev/ttyUSB0", "pn532_i2c:/dev/i2c-1"):
        root = _uart_root(tmp_path / connstring.replace("/", "_").replace(":", "_"), connstring)
        out = run_install("--root", str(root)).stdout
        assert "raspi-config" not in out, connstring
        assert "console=serial0,115200" in (root / "boot/firmware/cmdline.txt").read_text()


def test_a_udev_name_for_the_uart_counts_as_the_uart(tmp_path: Path) -> None:
    root = _uart_root(tmp_path, "pn532_uart:/dev/lobby-nfc")
    rules = root / "etc/udev/rules.d/90-lobby-site.rules"
    rules.parent.mkdir(parents=True)
    rules.write_text((SYSTEMD / "udev/90-lobby-site.rules").read_text())
    assert "raspi-config" not in run_install("--root", str(root)).stdout  # the example's UART rule is commented out
    rules.write_text(rules.read_text().replace('# KERNEL=="ttyAMA0", SYMLINK+="lobby-nfc"', 'KERNEL=="ttyAMA0", SYMLINK+="lobby-nfc"'))
    out = run_install("--root", str(root)).stdout
    assert "would run: raspi-config nonint do_serial_cons 1" in out and "/dev/lobby-nfc" in out
