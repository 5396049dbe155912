#!/usr/bin/env bash
# From a fresh Raspberry Pi OS Bookworm (64-bit) image to a working lobby:
#
#   sudo systemd/install.sh                      kiosk + gateway on this Pi
#   sudo systemd/install.sh --role gateway       headless gateway (plant room, no screen)
#   sudo systemd/install.sh --kiosk-mode cage    the touchscreen under the cage compositor
#
# then edit /etc/lobby/lobby.toml (made from config/example.toml the first time, never
# overwritten), put the broker's CA and password into /etc/lobby, and run
# `sudo -u lobby lobby doctor` (never as root). A sample staff card or a guessable PIN is refused.
#
# Re-running upgrades: Debian packages that are missing are installed, the release is
# installed (see --release), changed files are replaced (unchanged ones are left alone,
# mtime included) and the services are restarted.
#
#   --release TARBALL            install this release (made once by `systemd/release.sh build`
#                                on a build host): its own virtual environment in
#                                /opt/lobby/releases/NAME from hash-pinned wheels, no index, no
#                                compiler; /opt/lobby/current switched to it, the previous one
#                                kept. Without --release a release is built here from the
#                                source tree first (a bench Pi; needs the index and gcc).
#                                Fleet upgrades and rollbacks: lobby-release (docs/operator-guide.md).
#   --uninstall [--purge-data]   remove units, virtual environment, user, udev and
#                                modprobe files; /var/lib/lobby and /etc/lobby stay
#                                unless --purge-data is given
#   --root DIR                   install the files under DIR and change nothing else:
#                                no apt, pip, useradd, chown, systemctl or udevadm; what
#                                would have run is printed ("would run: ...")
#   --no-start                   install and enable, but do not (re)start the services
#   --source DIR                 the project tree (default: the folder above this script)
#
# What it does, in order: Debian packages; groups and the system user `lobby`; the
# release in /opt/lobby/releases (and lgpio linked in from apt), /usr/local/sbin/lobby-release;
# shared files in /opt/lobby/share/lobby; /etc/lobby and lobby.toml; /var/lib/lobby; udev
# rules and the pn533 blacklist; systemd units, timers and drop-ins; the site's time
# servers ([time] ntp_servers, a timesyncd drop-in); the hardware watchdog
# (system.conf.d/lobby-watchdog.conf, bcm2835_wdt); the polkit rule for central's restart
# and reboot commands; the serial console off when a reader is on the Pi's UART
# (raspi-config nonint); console blanking off; time zone; enable and (re)start;
# `lobby config check` and `lobby doctor`.
set -euo pipefail

ROOT=""
ROLE=kiosk
KIOSK_MODE=kms
ACTION=install
PURGE_DATA=0
START=1
SRC="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"

RELEASE_TARBALL=""

usage() { sed -n "2,$(( $(grep -n "^set -euo pipefail" "$0" | cut -d: -f1) - 1 ))p" "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#*=}"; shift ;;
    --role) ROLE="${2:?}"; shift 2 ;;
    --role=*) ROLE="${1#*=}"; shift ;;
    --kiosk-mode) KIOSK_MODE="${2:?}"; shift 2 ;;
    --kiosk-mode=*) KIOSK_MODE="${1#*=}"; shift ;;
    --source) SRC="${2:?}"; shift 2 ;;
    --source=*) SRC="${1#*=}"; shift ;;
    --release) RELEASE_TARBALL="${2:?--release needs a tarball}"; shift 2 ;;
    --release=*) RELEASE_TARBALL="${1#*=}"; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge-data) PURGE_DATA=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done
case "$ROLE" in kiosk|gateway) ;; *) echo "install.sh: --role is kiosk or gateway" >&2; exit 64 ;; esac
case "$KIOSK_MODE" in kms|cage) ;; *) echo "install.sh: --kiosk-mode is kms or cage" >&2; exit 64 ;; esac
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != "/" ] || { echo "install.sh: --root / is the real system; leave --root out" >&2; exit 64; }
fi

# --- where things go --------------------------------------------------------------------
VENV=/opt/lobby
SHARE=$VENV/share/lobby
UNIT_DIR=/etc/systemd/system
UDEV_DIR=/etc/udev/rules.d
MODPROBE_DIR=/etc/modprobe.d
CONF_DIR=/etc/lobby
CONF=$CONF_DIR/lobby.toml
STATE_DIR=/var/lib/lobby
BIN_LINK=/usr/local/bin/lobby
RELEASE_TOOL=/usr/local/sbin/lobby-release
LOBBY_USER=lobby
SERVICE_GROUPS=(dialout gpio i2c plugdev)           # serial, GPIO, I2C, USB
KIOSK_GROUPS=(video render input)                    # GPU, screen, touch
UNITS=(lobby-gateway.service lobby-kiosk.service lobby-purge.service lobby-purge.timer
       lobby-backup.service lobby-backup.timer lobby-failed@.service)
SYSTEM_CONF_DIR=/etc/systemd/system.conf.d
MODULES_LOAD_DIR=/etc/modules-load.d
POLKIT_RULES=/etc/polkit-1/rules.d/50-lobby.rules

APT_COMMON=(python3 python3-venv                               # each release's venv
            sqlite3 mosquitto-clients ca-certificates
            libnfc6 libnfc-bin libfreefare0 libfreefare-dev     # pynfc loads "libfreefare.so" (in -dev)
            libusb-1.0-0                                       # pyusb: USB printer, USB readers
            polkitd                                            # service.restart, system.reboot (50-lobby.rules)
            fonts-noto-cjk)
APT_BUILD=(python3-dev gcc linux-libc-dev)  # only to build a release here (no --release): evdev compiles
APT_KIOSK=(libgl1 libegl1 libgles2 libgbm1 libdrm2 libmtdev1)  # Kivy's SDL2 on KMS/DRM
APT_CAGE=(cage xwayland)

# --- output and side effects ------------------------------------------------------------
CHANGED=0          # files written in this run
RESTART_NEEDED=0   # the code or a unit changed: restart running services
if [ -t 1 ]; then B=$'\033[1m' Y=$'\033[1;33m' R=$'\033[1;31m' N=$'\033[0m'; else B="" Y="" R="" N=""; fi
say()  { printf '%s[lobby]%s %s\n' "$B" "$N" "$*"; }
warn() { printf '%s[lobby] warning:%s %s\n' "$Y" "$N" "$*" >&2; }
die()  { printf '%s[lobby] error:%s %s\n' "$R" "$N" "$*" >&2; exit 1; }

# run CMD...: run a command that changes the system; in --root mode only print it.
run() {
  if [ -n "$ROOT" ]; then
    printf 'would run: %s\n' "$*"
  else
    "$@"
  fi
}

# put SRC DEST MODE [OWNER]: install a file if it is missing or different. Unchanged
# files are not touched (same content, mtime and inode), so a re-run changes nothing.
put() {
  local src="$1" dest="$ROOT$2" mode="$3" owner="${4:-root:root}"
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$src" "$dest"; then
    [ "$(stat -c %a "$dest")" = "${mode#0}" ] || chmod "$mode" "$dest"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  local tmp
  tmp="$(mktemp "$(dirname "$dest")/.lobby-install.XXXXXX")"
  cat "$src" > "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
  own "$owner" "$2"
  say "installed $2"
  CHANGED=$((CHANGED + 1))
  return 0
}

# put_text DEST MODE [OWNER] < text
put_text() {
  local tmp
  tmp="$(mktemp)"
  cat > "$tmp"
  put "$tmp" "$@"
  rm -f "$tmp"
}

# own USER:GROUP PATH: chown on the real system; in --root mode only print it.
own() {
  if [ -n "$ROOT" ]; then
    [ "$1" = "root:root" ] || printf 'would run: chown %s %s\n' "$1" "$2"
  else
    chown "$1" "$2"
  fi
}

# ensure_dir PATH MODE OWNER
ensure_dir() {
  local dir="$ROOT$1"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    say "created $1"
    CHANGED=$((CHANGED + 1))
  fi
  [ "$(stat -c %a "$dir")" = "${2#0}" ] || chmod "$2" "$dir"
  own "$3" "$1"
}

remove() {  # remove PATH...: delete installed files (in --root mode too: they are ours)
  local path
  for path in "$@"; do
    case "$path" in /?*) ;; *) die "refusing to remove '$path'" ;; esac
    if [ -e "$ROOT$path" ] || [ -L "$ROOT$path" ]; then
      rm -rf -- "$ROOT$path"
      say "removed $path"
    fi
  done
}

have_systemd() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

python_for_tools() {  # a Python >= 3.11 with tomllib, for reading the config
  local py
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import tomllib' 2>/dev/null; then
      echo "$py"; return
    fi
  done
}

# --- preflight ----------------------------------------------------------------------------
preflight() {
  [ -f "$SRC/pyproject.toml" ] && [ -d "$SRC/systemd" ] || die "no project tree at $SRC (use --source)"
  if [ -z "$ROOT" ]; then
    [ "$(id -u)" -eq 0 ] || die "run as root: sudo $0 $*"
    command -v dpkg-query >/dev/null || die "not a Debian system (Raspberry Pi OS Bookworm expected)"
    command -v systemctl >/dev/null || die "systemd is needed"
  else
    say "installing into $ROOT only (no packages, users or services are touched)"
  fi
}

# --- 1. Debian packages ---------------------------------------------------------------------
apt_packages() {
  local wanted=("${APT_COMMON[@]}")
  [ -z "$RELEASE_TARBALL" ] && wanted+=("${APT_BUILD[@]}")
  [ "$ROLE" = kiosk ] && wanted+=("${APT_KIOSK[@]}")
  [ "$ROLE" = kiosk ] && [ "$KIOSK_MODE" = cage ] && wanted+=("${APT_CAGE[@]}")
  # python3-lgpio comes from the Raspberry Pi archive (not in plain Debian).
  if [ -n "$ROOT" ] || apt-cache policy python3-lgpio 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    wanted+=(python3-lgpio)
  fi
  local missing=() pkg
  for pkg in "${wanted[@]}"; do
    if [ -n "$ROOT" ] || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: all present"
    return
  fi
  say "Debian packages to install: ${missing[*]}"
  run apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# --- 2. groups and the service user ---------------------------------------------------------
user_and_groups() {
  local groups=("${SERVICE_GROUPS[@]}")
  [ "$ROLE" = kiosk ] && groups+=("${KIOSK_GROUPS[@]}")
  local g
  for g in "${groups[@]}"; do
    if [ -n "$ROOT" ] || ! getent group "$g" >/dev/null; then
      run groupadd --system "$g"   # Raspberry Pi OS has them all; plain Debian lacks gpio, i2c
    fi
  done
  if [ -n "$ROOT" ] || ! id "$LOBBY_USER" >/dev/null 2>&1; then
    run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "Lobby kiosk and gateway" "$LOBBY_USER"
  fi
  local have missing=()
  have=" $(id -nG "$LOBBY_USER" 2>/dev/null || true) "
  for g in "${groups[@]}"; do
    [[ "$have" == *" $g "* ]] || missing+=("$g")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    run usermod --append --groups "$(IFS=,; echo "${missing[*]}")" "$LOBBY_USER"
  fi
}

# --- 3. the release ----------------------------------------------------------------------------
# Each release is its own virtual environment in /opt/lobby/releases/NAME, installed by
# lobby-release (systemd/release.sh) from the release tarball's hash-pinned wheels, and
# /opt/lobby/current is switched to it in one rename; /opt/lobby/bin -> current/bin is what
# the units run. Why lgpio is linked in, not --system-site-packages: that option would put
# every apt-installed Python package on the venv's path, pip would then take apt's versions
# as satisfying the project's requirements, and an apt upgrade could change them under the
# running services. Linking only the two lgpio files keeps everything else pinned, and lgpio
# itself matches the liblgpio and kernel that apt keeps up to date.
SWITCHED=0
venv_and_project() {
  put "$SRC/systemd/release.sh" "$RELEASE_TOOL" 0755
  local tool=("bash" "$SRC/systemd/release.sh") tarball="$RELEASE_TARBALL" name current
  current="$(readlink "$ROOT$VENV/current" 2>/dev/null || true)"
  if [ -z "$tarball" ]; then
    name="$("${tool[@]}" name --source "$SRC")"
    if [ "${current##*/}" = "$name" ] && [[ "$name" != *dirty* ]]; then
      say "release $name is current: nothing to install"
    elif [ -n "$ROOT" ]; then
      printf 'would run: %s build --source %s --out /var/cache/lobby/releases\n' "$RELEASE_TOOL" "$SRC"
      printf 'would run: python3 -m venv %s/releases/%s (lobby-release install)\n' "$VENV" "$name"
      printf 'would run: link lgpio from python3-lgpio into %s/releases/%s\n' "$VENV" "$name"
    else
      say "building release $name here from $SRC (a fleet installs a tarball built once: --release)"
      mkdir -p /var/cache/lobby/releases
      tarball="$("${tool[@]}" build --source "$SRC" --out /var/cache/lobby/releases | tail -n 1)"
    fi
  fi
  if [ -n "$tarball" ]; then
    local rootopt=()
    [ -n "$ROOT" ] && rootopt=(--root "$ROOT")
    "${tool[@]}" install "$tarball" "${rootopt[@]}" --no-restart --no-gate
    if [ "$(readlink "$ROOT$VENV/current" 2>/dev/null || true)" != "$current" ]; then
      SWITCHED=1
      RESTART_NEEDED=1
    fi
  fi
  ensure_symlink "$VENV/bin/lobby" "$BIN_LINK"
}

ensure_symlink() {  # ensure_symlink TARGET LINK
  local link="$ROOT$2"
  if [ "$(readlink "$link" 2>/dev/null)" != "$1" ]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn "$1" "$link"
    say "linked $2 -> $1"
    CHANGED=$((CHANGED + 1))
  fi
}

# --- 4. shared files: docs, the example config, broker samples ----------------------------
shared_files() {
  put "$SRC/config/example.toml" "$SHARE/lobby.example.toml" 0644
  local f
  for f in "$SRC"/docs/operator-guide.md "$SRC"/docs/scaling.md; do
    [ -f "$f" ] && put "$f" "$SHARE/doc/$(basename "$f")" 0644
  done
  for f in "$SRC"/systemd/mosquitto/*; do
    local mode=0644
    [ -x "$f" ] && mode=0755
    put "$f" "$SHARE/mosquitto/$(basename "$f")" "$mode"
  done
}

# --- 5. configuration and state -------------------------------------------------------------
# /etc/lobby must be root's (the lobby user may add files there, never replace the folder):
# a folder or symlink the lobby user controls would let it choose what root reads.
check_conf_dir() {
  local dir="$ROOT$CONF_DIR"
  [ -L "$dir" ] && die "$CONF_DIR is a symlink: make it a real folder owned by root (mode 1770, group $LOBBY_USER)"
  if [ -z "$ROOT" ] && [ "$(stat -c %U "$dir")" != root ]; then
    die "$CONF_DIR is owned by $(stat -c %U "$dir"), not root: run 'chown root:$LOBBY_USER $CONF_DIR' and check its files"
  fi
}

# A staff card from the example, or a guessable PIN, opens visitors' personal data: refuse.
refuse_placeholders() {
  [ -f "$ROOT$CONF" ] || return 0
  if grep -Eq '^[[:space:]]*staff_cards[[:space:]]*=.*"(5A3B9C01|00000000|FFFFFFFF|DEADBEEF|12345678)"' "$ROOT$CONF"; then
    die "$CONF lists a sample staff card (kiosk.staff_cards): replace it with this site's own cards, then re-run"
  fi
  if [ -n "$ROOT" ]; then
    echo "would run: runuser -u $LOBBY_USER -- $VENV/bin/python -m lobby.config.placeholders $CONF"
  elif [ -x "$VENV/bin/python" ]; then
    as_lobby "$VENV/bin/python" -m lobby.config.placeholders "$CONF" \
      || die "$CONF holds a sample card or a guessable PIN (see above): fix it, then re-run"
  fi
}

# Run a command as the service user: nothing the lobby user can write is read as root.
as_lobby() {
  runuser -u "$LOBBY_USER" -- "$@"
}

config_and_state() {
  # /etc/lobby: sticky and group-writable, so the gateway can apply config.update
  # (it replaces lobby.toml, which it owns) but cannot replace root's certificates.
  ensure_dir "$CONF_DIR" 1770 "root:$LOBBY_USER"
  check_conf_dir
  if [ ! -e "$ROOT$CONF" ]; then
    put "$SRC/config/example.toml" "$CONF" 0640 "$LOBBY_USER:$LOBBY_USER"
    say "wrote $CONF from config/example.toml: edit it for this site"
  else
    say "$CONF exists: left as it is"
  fi
  refuse_placeholders
  ensure_dir "$STATE_DIR" 0750 "$LOBBY_USER:$LOBBY_USER"
  ensure_dir "$STATE_DIR/backups" 0750 "$LOBBY_USER:$LOBBY_USER"
  if [ -z "$ROOT" ] && [ "$(stat -c %U "$STATE_DIR")" != "$LOBBY_USER" ]; then
    chown -R "$LOBBY_USER:$LOBBY_USER" "$STATE_DIR"   # after a re-install with a new uid
  fi
}

# --- 6. udev rules and the pn533 blacklist --------------------------------------------------
udev_and_modprobe() {
  put "$SRC/systemd/udev/99-lobby.rules" "$UDEV_DIR/99-lobby.rules" 0644
  # Rules run as root: only from the release tree, never from /etc/lobby (the lobby user may write there).
  if [ ! -e "$ROOT$UDEV_DIR/90-lobby-site.rules" ]; then
    put "$SRC/systemd/udev/90-lobby-site.rules" "$UDEV_DIR/90-lobby-site.rules" 0644
    say "edit $UDEV_DIR/90-lobby-site.rules for this site's adapters (never overwritten)"
  fi
  if [ -e "$ROOT$CONF_DIR/udev-90-lobby-site.rules" ]; then
    warn "ignored $CONF_DIR/udev-90-lobby-site.rules: the lobby user can write $CONF_DIR, so a rule from there could run commands as root; review it and copy it into $UDEV_DIR yourself"
  fi
  put "$SRC/systemd/modprobe/lobby-blacklist-pn533.conf" "$MODPROBE_DIR/lobby-blacklist-pn533.conf" 0644
  if [ -n "$ROOT" ]; then
    echo "would run: udevadm control --reload && udevadm trigger"
    echo "would run: modprobe -r pn533_usb pn533 nfc"
  else
    if command -v udevadm >/dev/null; then
      udevadm control --reload || true
      udevadm trigger --subsystem-match=tty --subsystem-match=usb --subsystem-match=gpio \
        --subsystem-match=i2c-dev || true
    fi
    if lsmod 2>/dev/null | grep -qE '^pn533'; then
      modprobe -r pn533_usb pn533 nfc 2>/dev/null || warn "could not unload pn533: unplug and re-plug the USB NFC reader"
    fi
  fi
}

# --- 7. systemd units -----------------------------------------------------------------------
units() {
  local before=$CHANGED unit
  for unit in "${UNITS[@]}"; do
    put "$SRC/systemd/$unit" "$UNIT_DIR/$unit" 0644
  done
  if [ "$ROLE" = kiosk ] && [ "$KIOSK_MODE" = cage ]; then
    put "$SRC/systemd/lobby-kiosk.service.d/cage.conf" "$UNIT_DIR/lobby-kiosk.service.d/cage.conf" 0644
  elif [ -e "$ROOT$UNIT_DIR/lobby-kiosk.service.d/cage.conf" ]; then
    remove "$UNIT_DIR/lobby-kiosk.service.d/cage.conf"
    rmdir "$ROOT$UNIT_DIR/lobby-kiosk.service.d" 2>/dev/null || true
    CHANGED=$((CHANGED + 1))
  fi
  purge_time_dropin
  if [ "$CHANGED" -ne "$before" ]; then
    RESTART_NEEDED=1
    run systemctl daemon-reload
  fi
  ntp_servers_dropin
  hardware_watchdog
  # central's service.restart and system.reboot: the lobby user may restart its own two services
  # and reboot, nothing more (polkit; Bookworm's polkitd reads JavaScript rules).
  put "$SRC/systemd/polkit/50-lobby.rules" "$POLKIT_RULES" 0644
}

# The site's own time servers ([time] ntp_servers), for networks that block public NTP: handed
# to systemd-timesyncd, Raspberry Pi OS's NTP client (no package to add, nothing to replace),
# as NTP= in a drop-in; none configured: the drop-in is removed and the image's defaults apply.
TIMESYNCD_DROPIN=/etc/systemd/timesyncd.conf.d/lobby-ntp.conf
ntp_servers_dropin() {
  local py servers="" before=$CHANGED
  py="$(python_for_tools)"
  if [ -n "$py" ] && [ -r "$ROOT$CONF" ]; then
    if ! servers="$("$py" - "$ROOT$CONF" <<'PY'
import re, sys, tomllib
with open(sys.argv[1], "rb") as fh:
    cfg = tomllib.load(fh)
servers = cfg.get("time", {}).get("ntp_servers", [])
if not isinstance(servers, list) or not all(isinstance(s, str) and re.fullmatch(r"[A-Za-z0-9.:-]{1,253}", s) for s in servers):
    sys.exit(1)
print(" ".join(servers))
PY
)"; then
      warn "could not read [time] ntp_servers from $CONF: the time servers are left as they are"
      return
    fi
  fi
  if [ -z "$servers" ]; then
    if [ -e "$ROOT$TIMESYNCD_DROPIN" ]; then
      remove "$TIMESYNCD_DROPIN"
      CHANGED=$((CHANGED + 1))
    fi
  else
    put_text "$TIMESYNCD_DROPIN" 0644 <<EOF
# Written by systemd/install.sh from $CONF ([time] ntp_servers). Re-run install.sh after changing it.
[Time]
NTP=$servers
EOF
  fi
  if [ "$CHANGED" -ne "$before" ]; then
    if [ -n "$ROOT" ]; then
      echo "would run: systemctl restart systemd-timesyncd"
    elif have_systemd; then
      systemctl restart systemd-timesyncd 2>/dev/null || warn "could not restart systemd-timesyncd: reboot to use [time] ntp_servers"
    fi
  fi
}

# The hardware watchdog: systemd pings /dev/watchdog (RuntimeWatchdogSec=) and the board
# resets itself if the whole machine hangs. The Pi's watchdog is bcm2835_wdt; Raspberry Pi
# OS builds it into the kernel on most boards, otherwise it is loaded at every boot.
hardware_watchdog() {
  local before=$CHANGED
  put "$SRC/systemd/system.conf.d/lobby-watchdog.conf" "$SYSTEM_CONF_DIR/lobby-watchdog.conf" 0644
  if [ -n "$ROOT" ]; then
    [ -e "$ROOT/dev/watchdog" ] || put_text "$MODULES_LOAD_DIR/lobby-watchdog.conf" 0644 <<<"bcm2835_wdt"
    echo "would run: modprobe bcm2835_wdt (if /dev/watchdog is missing)"
    [ "$CHANGED" -eq "$before" ] || echo "would run: systemctl daemon-reexec"
    return
  fi
  if [ ! -e /dev/watchdog ]; then
    put_text "$MODULES_LOAD_DIR/lobby-watchdog.conf" 0644 <<<"bcm2835_wdt"
    modprobe bcm2835_wdt 2>/dev/null || warn "no hardware watchdog (/dev/watchdog) here: a hung machine will not reset itself"
  fi
  # PID 1 reads system.conf.d only when it re-executes (or at boot).
  if [ "$CHANGED" -ne "$before" ] && have_systemd; then
    systemctl daemon-reexec || warn "systemctl daemon-reexec failed: the watchdog starts at the next boot"
  fi
}

# The purge runs at [privacy] purge_at in the site's time zone ([site] timezone).
purge_time_dropin() {
  local py at="03:30" tz="Asia/Shanghai" values
  py="$(python_for_tools)"
  if [ -n "$py" ] && [ -r "$ROOT$CONF" ]; then
    if values="$("$py" - "$ROOT$CONF" <<'PY'
import re, sys, tomllib
with open(sys.argv[1], "rb") as fh:
    cfg = tomllib.load(fh)
at = str(cfg.get("privacy", {}).get("purge_at", "03:30"))
tz = str(cfg.get("site", {}).get("timezone", "Asia/Shanghai"))
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", at) or not re.fullmatch(r"[A-Za-z0-9_+/-]+", tz):
    sys.exit(1)
print(at, tz)
PY
)"; then
      read -r at tz <<<"$values"
    else
      warn "could not read privacy.purge_at / site.timezone from $CONF: purging at $at $tz"
    fi
  fi
  put_text "$UNIT_DIR/lobby-purge.timer.d/purge-at.conf" 0644 <<EOF
# Written by systemd/install.sh from $CONF ([privacy] purge_at, [site] timezone).
# Re-run install.sh after changing either.
[Timer]
OnCalendar=
OnCalendar=*-*-* $at:00 $tz
EOF
  SITE_TZ="$tz"
}

# --- 8. console and display ------------------------------------------------------------------

# A reader on the Pi's own UART ([[readers]] connstring or device on /dev/serial0, /dev/ttyAMA0,
# /dev/ttyS0, or a name 90-lobby-site.rules gives the UART, e.g. /dev/lobby-nfc): Raspberry Pi OS puts a login console there (console=serial0,115200 in cmdline.txt),
# whose boot messages and getty would garble the reader's frames. raspi-config's own functions
# take it off (Bookworm: do_serial_cons 1 = console off; do_serial_hw 0 = UART hardware on,
# enable_uart=1), from the next boot. Without such a reader nothing is changed.
uart_reader_console() {
  local cmdline="$1" py uart="" line
  py="$(python_for_tools)"
  [ -n "$py" ] && [ -r "$ROOT$CONF" ] || return 0
  if ! uart="$("$py" - "$ROOT$CONF" "$ROOT$UDEV_DIR/90-lobby-site.rules" <<'PY'
import re, sys, tomllib
with open(sys.argv[1], "rb") as fh:
    cfg = tomllib.load(fh)
names = ["serial[01]", "ttyAMA[0-9]+", "ttyS0"]
try:  # the site's udev names for the UART, e.g. KERNEL=="ttyAMA0", SYMLINK+="lobby-nfc"
    with open(sys.argv[2], encoding="utf-8") as fh:
        for line in fh:
            if not line.lstrip().startswith("#") and re.search(r'KERNEL=="(?:ttyAMA[0-9]+|ttyS0)"', line):
                names += [re.escape(n) for n in re.findall(r'SYMLINK\+="([A-Za-z0-9_./-]+)"', line)]
except FileNotFoundError:
    pass
pattern = re.compile(r"(?:^|:)(/dev/(?:%s))(?:$|[:,])" % "|".join(names))
for reader in cfg.get("readers", []):
    for key in ("connstring", "device"):
        match = pattern.search(str(reader.get(key) or ""))
        if match:
            print(match[1])
            sys.exit(0)
PY
)"; then
    warn "could not read [[readers]] from $CONF: the serial console is left as it is"
    return 0
  fi
  [ -n "$uart" ] || return 0
  line="$(head -n 1 "$ROOT$cmdline")"
  local config_txt="${cmdline%cmdline.txt}config.txt"
  if grep -qE '(^| )console=(serial[01]|ttyAMA[0-9]+|ttyS0)(,|$| )' <<<"$line"; then
    say "a reader is on the UART ($uart): the serial console comes off from the next boot"
    if [ -n "$ROOT" ] || command -v raspi-config >/dev/null; then
      run raspi-config nonint do_serial_cons 1
    else
      warn "no raspi-config: remove console=serial0,115200 from $cmdline by hand, then reboot"
    fi
  fi
  if ! grep -qsE '^enable_uart=1' "$ROOT$config_txt"; then
    if [ -n "$ROOT" ] || command -v raspi-config >/dev/null; then
      run raspi-config nonint do_serial_hw 0
    else
      warn "no raspi-config: add enable_uart=1 to $config_txt for the reader on $uart, then reboot"
    fi
  fi
}
console() {
  local cmdline=""
  for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    if [ -f "$ROOT$f" ]; then cmdline="$f"; break; fi
  done
  if [ -z "$cmdline" ]; then
    say "no /boot/firmware/cmdline.txt (not a Raspberry Pi?): console blanking left as it is"
  else
    local line
    line="$(head -n 1 "$ROOT$cmdline")"
    if ! grep -qw 'consoleblank=0' <<<"$line"; then
      line="$(sed -E 's/(^| )consoleblank=[0-9]+//g' <<<"$line")"
      put_text "$cmdline" "$(stat -c %a "$ROOT$cmdline")" <<<"$line consoleblank=0"
      say "screen blanking off from the next boot (consoleblank=0 in $cmdline)"
    fi
  fi
  [ -n "$cmdline" ] && uart_reader_console "$cmdline"
  if [ "$ROLE" = kiosk ]; then
    # The kiosk needs the console: no desktop session may hold the screen.
    if [ -n "$ROOT" ]; then
      echo "would run: systemctl set-default multi-user.target"
    elif [ "$(systemctl get-default 2>/dev/null)" = graphical.target ]; then
      warn "this image boots into a desktop; switching to the console (multi-user.target) for the kiosk"
      systemctl set-default multi-user.target
    fi
  fi
  if [ -n "${SITE_TZ:-}" ]; then
    if [ -n "$ROOT" ]; then
      echo "would run: timedatectl set-timezone $SITE_TZ"
    elif have_systemd && [ "$(timedatectl show -p Timezone --value 2>/dev/null)" != "$SITE_TZ" ]; then
      timedatectl set-timezone "$SITE_TZ" || warn "could not set the time zone to $SITE_TZ"
    fi
  fi
}

# --- 9. enable and start ------------------------------------------------------------------------
enable_and_start() {
  local enable=(lobby-gateway.service lobby-purge.timer lobby-backup.timer)
  [ "$ROLE" = kiosk ] && enable+=(lobby-kiosk.service)
  if [ -n "$ROOT" ]; then
    echo "would run: systemctl enable ${enable[*]}"
    [ "$START" = 1 ] && echo "would run: systemctl restart ${enable[*]}"
    return
  fi
  if ! have_systemd; then
    warn "systemd is not running here: units installed but not enabled"
    return
  fi
  systemctl enable --quiet "${enable[@]}"
  [ "$ROLE" = gateway ] && systemctl disable --now --quiet lobby-kiosk.service 2>/dev/null || true
  if [ "$START" = 1 ]; then
    local unit
    for unit in "${enable[@]}"; do
      if [ "$RESTART_NEEDED" = 1 ] || ! systemctl is-active --quiet "$unit"; then
        systemctl restart "$unit" || warn "$unit did not start: journalctl -u $unit -n 50"
      fi
    done
  fi
}

# A release switched in this run must come up healthy, or the previous one is put back.
release_gate() {
  [ "$SWITCHED" = 1 ] || return 0
  if [ -n "$ROOT" ]; then
    echo "would run: $RELEASE_TOOL gate --rollback-on-fail"
  elif [ "$START" = 1 ] && have_systemd; then
    "$RELEASE_TOOL" gate --rollback-on-fail || die "the new release was not healthy and was rolled back (lobby-release list)"
  fi
}

final_checks() {
  if [ -n "$ROOT" ]; then
    echo "would run: runuser -u $LOBBY_USER -- $VENV/bin/lobby config check $CONF"
    echo "would run: runuser -u $LOBBY_USER -- $VENV/bin/lobby doctor --config $CONF"
    return
  fi
  say "checking $CONF (as $LOBBY_USER)"
  as_lobby "$VENV/bin/lobby" config check "$CONF" || warn "fix $CONF, then: sudo systemctl restart lobby-gateway lobby-kiosk"
  say "lobby doctor as $LOBBY_USER (run it again any time: sudo -u $LOBBY_USER lobby doctor)"
  as_lobby "$VENV/bin/lobby" doctor --config "$CONF" || true
}

install_all() {
  preflight
  apt_packages
  user_and_groups
  venv_and_project
  shared_files
  config_and_state
  udev_and_modprobe
  units
  console
  enable_and_start
  release_gate
  final_checks
  if [ "$CHANGED" -eq 0 ]; then
    say "done: nothing changed (everything was up to date)"
  else
    say "done: $CHANGED file(s) written"
  fi
}

# --- uninstall ----------------------------------------------------------------------------------
uninstall_all() {
  preflight
  local unit
  if [ -n "$ROOT" ]; then
    echo "would run: systemctl disable --now ${UNITS[*]}"
  elif have_systemd; then
    systemctl disable --now --quiet "${UNITS[@]}" 2>/dev/null || true
  fi
  for unit in "${UNITS[@]}"; do
    remove "$UNIT_DIR/$unit"
  done
  remove "$UNIT_DIR/lobby-kiosk.service.d" "$UNIT_DIR/lobby-purge.timer.d" "$TIMESYNCD_DROPIN"
  remove "$SYSTEM_CONF_DIR/lobby-watchdog.conf" "$MODULES_LOAD_DIR/lobby-watchdog.conf" "$POLKIT_RULES"
  run systemctl daemon-reload
  # This site's udev names stay where root keeps them (never copied into /etc/lobby, which the
  # lobby user can write) unless --purge-data; a re-install leaves them as they are.
  if [ "$PURGE_DATA" = 1 ]; then
    remove "$UDEV_DIR/90-lobby-site.rules"
  elif [ -f "$ROOT$UDEV_DIR/90-lobby-site.rules" ]; then
    say "kept this site's udev rules in $UDEV_DIR/90-lobby-site.rules"
  fi
  remove "$UDEV_DIR/99-lobby.rules" "$MODPROBE_DIR/lobby-blacklist-pn533.conf"
  run udevadm control --reload
  remove "$BIN_LINK" "$RELEASE_TOOL" "$VENV"
  if [ -n "$ROOT" ] || id "$LOBBY_USER" >/dev/null 2>&1; then
    run userdel "$LOBBY_USER"
  fi
  if [ "$PURGE_DATA" = 1 ]; then
    remove "$STATE_DIR" "$CONF_DIR"
  else
    say "kept $STATE_DIR (store, backups) and $CONF_DIR (configuration): --purge-data removes them"
  fi
  say "consoleblank=0 stays in cmdline.txt (harmless); Debian packages stay installed"
}

if [ "$ACTION" = uninstall ]; then
  uninstall_all
else
  install_all
fi
