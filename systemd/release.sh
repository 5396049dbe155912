#!/usr/bin/env bash
# Lobby releases: build once, install atomically, keep the earlier ones, roll back in one command.
# Installed on each Pi as /usr/local/sbin/lobby-release (by install.sh); see docs/operator-guide.md.
#
#   systemd/release.sh build [--source DIR] [--out DIR] [--version NAME] [--lock FILE] [--wheelhouse DIR]
#        On a build host of the target's kind (arm64 for a Pi): a tarball holding the project's wheel
#        and every dependency as a wheel, hash-pinned (requirements.txt with --hash lines), made from
#        the lock file release/lock.txt. Nothing is compiled on a Pi.
#   lobby-release install TARBALL [--keep N] [--no-restart] [--no-gate] [--gate-timeout S]
#        Unpack into /opt/lobby/releases/NAME with its own virtual environment (pip --no-index
#        --require-hashes --only-binary=:all:), verify it, switch /opt/lobby/current to it with one
#        rename(2), restart the services and wait for them to report healthy; if they do not
#        within the gate time, switch back to the previous release.
#   lobby-release rollback [--to NAME] [--no-restart] [--no-gate]
#        Switch back to the previous release (or NAME) and restart. Rolling back twice rolls forward.
#   lobby-release gate [--gate-timeout S] [--rollback-on-fail]
#        Healthy: `lobby doctor --only store,config` passes as the lobby user and the enabled
#        services are active; where lobby-gateway is in use also `--only started`: the gateway
#        process running this release published its gateway.started with this release's version
#        and the broker acknowledged it, after the switch (the time of the `current` link).
#   lobby-release list | current | name [--source DIR]
#
#   --root DIR   everything under DIR: releases are really unpacked and installed there, but
#                systemctl and runuser are only printed ("would run: ...") and the gate runs the
#                doctor as the calling user against DIR/etc/lobby/lobby.toml
#
# Test hook (--root only; ignored on a real system): LOBBY_RELEASE_RESTART_CMD, a shell command
# run instead of printing "would run: systemctl restart ...", with LOBBY_RELEASE_ROOT,
# LOBBY_RELEASE_CURRENT (the release now current) and LOBBY_RELEASE_UNITS in its environment.
# A test restarts its own gateway process on the switched release with it; the gate then also
# waits for that gateway's acknowledged gateway.started (--only started), as on a real Pi.
#
# Layout: /opt/lobby/releases/NAME/ (a virtual environment with bin/lobby, RELEASE, requirements.txt)
#         /opt/lobby/current -> releases/NAME       the release in use (swapped atomically)
#         /opt/lobby/previous -> releases/NAME      the one before it (what rollback goes to)
#         /opt/lobby/bin -> current/bin             what the units and /usr/local/bin/lobby run
set -euo pipefail

ROOT=""
LOBBY_DIR=/opt/lobby
CONF=/etc/lobby/lobby.toml
LOBBY_USER=lobby
KEEP=3
RESTART=1
GATE=1
GATE_TIMEOUT="${LOBBY_RELEASE_GATE_TIMEOUT:-90}"
ROLLBACK_ON_FAIL=0
SRC=""
OUT=""
NAME_OVERRIDE=""
LOCK=""
WHEELHOUSE=""
TO=""
RESTART_CMD="${LOBBY_RELEASE_RESTART_CMD:-}"   # --root only: see the test hook above
SWITCHED_UPTIME="" SWITCHED_BOOT=""   # set by switch_to: the boot clock at the switch, for the gate
HERE="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
PY="${PYTHON:-python3}"

if [ -t 1 ]; then B=$'\033[1m' Y=$'\033[1;33m' R=$'\033[1;31m' N=$'\033[0m'; else B="" Y="" R="" N=""; fi
say()  { printf '%s[lobby-release]%s %s\n' "$B" "$N" "$*"; }
warn() { printf '%s[lobby-release] warning:%s %s\n' "$Y" "$N" "$*" >&2; }
die()  { printf '%s[lobby-release] error:%s %s\n' "$R" "$N" "$*" >&2; exit 1; }
usage() { sed -n "2,$(( $(grep -n '^set -euo pipefail' "$0" | cut -d: -f1) - 1 ))p" "$0" | sed 's/^# \{0,1\}//'; }

# run CMD...: a command that changes the running system; in --root mode only printed.
run() {
  if [ -n "$ROOT" ]; then printf 'would run: %s\n' "$*"; else "$@"; fi
}

# pip as the release needs it: this machine's pip configuration (extra indexes, find-links,
# constraints) must not change what a release is made of or installs.
clean_pip() { env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null "$@"; }

ACTION="${1:-}"
[ $# -gt 0 ] && shift
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#*=}"; shift ;;
    --source) SRC="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --version) NAME_OVERRIDE="${2:?}"; shift 2 ;;
    --lock) LOCK="${2:?}"; shift 2 ;;
    --wheelhouse) WHEELHOUSE="${2:?}"; shift 2 ;;
    --keep) KEEP="${2:?}"; shift 2 ;;
    --to) TO="${2:?}"; shift 2 ;;
    --no-restart) RESTART=0; shift ;;
    --no-gate) GATE=0; shift ;;
    --gate-timeout) GATE_TIMEOUT="${2:?}"; shift 2 ;;
    --rollback-on-fail) ROLLBACK_ON_FAIL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "lobby-release: unknown option $1 (see --help)" >&2; exit 64 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != "/" ] || { echo "lobby-release: --root / is the real system; leave --root out" >&2; exit 64; }
else
  RESTART_CMD=""   # the test hook never replaces systemctl on a real system
fi
case "$KEEP" in ''|*[!0-9]*) die "--keep takes a number" ;; esac
[ "$KEEP" -ge 2 ] || die "--keep must be at least 2 (the current release and the one to roll back to)"
L="$ROOT$LOBBY_DIR"
RELEASES="$L/releases"
# the gateway's compiled modules (PYTHONPYCACHEPREFIX in lobby-gateway.service), by source path
PYCACHE="$ROOT/var/cache/lobby/pycache"

# --- naming a build ----------------------------------------------------------------------------
project_version() {  # the version in pyproject.toml
  sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$1/pyproject.toml" | head -n 1
}

tree_digest() {
  (cd "$1" && find pyproject.toml config drivers kiosk lobby mqtt_bridge systemd docs release -type f \
     ! -name '*.pyc' ! -path '*/__pycache__/*' ! -name '_build.py' -print0 2>/dev/null \
     | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
}

# build_name SRC: from `git describe --tags --always --dirty` (a tag v1.4.0 -> 1.4.0, 1.4.0-3-gabc1234;
# no tag yet -> 0.1.0-gabc1234[-dirty]); a tree without git: 0.1.0+src.<digest of the tree>.
build_name() {
  local src="$1" base described
  base="$(project_version "$src")"
  [ -n "$base" ] || die "no version in $src/pyproject.toml"
  if [ -n "$NAME_OVERRIDE" ]; then
    described="$NAME_OVERRIDE"
  elif described="$(git -C "$src" describe --tags --always --dirty 2>/dev/null)" && [ -n "$described" ]; then
    if [[ "$described" =~ ^v?[0-9]+\.[0-9]+ ]]; then
      described="${described#v}"
    else
      described="$base-g$described"
    fi
  else
    described="$base+src.$(tree_digest "$src")"
  fi
  [[ "$described" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$ ]] || die "not a usable release name: '$described'"
  echo "$described"
}

# wheel_version NAME: the same name as a PEP 440 version (1.4.0-3-gabc -> 1.4.0+3.gabc).
wheel_version() {
  local name="$1" base rest
  base="$(sed -E 's/^([0-9]+(\.[0-9]+)*).*/\1/' <<<"$name")"
  [[ "$base" =~ ^[0-9]+(\.[0-9]+)*$ ]] || base="0"
  rest="${name#"$base"}"
  rest="$(sed -E 's/[^A-Za-z0-9]+/./g; s/^\.+//; s/\.+$//' <<<"$rest")"
  if [ -n "$rest" ]; then echo "$base+$rest"; else echo "$base"; fi
}

# --- build ---------------------------------------------------------------------------------------
# lock_satisfied LOCK DIR: every locked package already has a file in DIR with one of its locked hashes.
lock_satisfied() {
  "$PY" - "$1" "$2" <<'PY'
import hashlib, pathlib, re, sys
lock, folder = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
text = lock.read_text().replace("\\\n", " ")
have = {hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.iterdir() if f.is_file()}
for line in text.splitlines():
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
    if m and not set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line)) & have:
        sys.exit(1)
PY
}

build() {
  SRC="${SRC:-$(cd "$HERE/.." && pwd)}"
  [ -f "$SRC/pyproject.toml" ] || die "no project tree at $SRC (use --source)"
  LOCK="${LOCK:-$SRC/release/lock.txt}"
  [ -f "$LOCK" ] || die "no lock file $LOCK"
  OUT="${OUT:-$SRC/dist}"
  mkdir -p "$OUT"
  OUT="$(cd "$OUT" && pwd)"
  local name wver plat arch pytag
  name="$(build_name "$SRC")"
  wver="$(wheel_version "$name")"
  plat="$("$PY" -c 'import sysconfig; print(sysconfig.get_platform())')"   # linux-aarch64 on a Pi
  arch="${plat#linux-}"
  pytag="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  work="$(mktemp -d)"
  trap 'rm -rf "${work:-}"' EXIT
  WHEELHOUSE="${WHEELHOUSE:-$work/wheelhouse}"
  mkdir -p "$WHEELHOUSE"
  say "building release $name ($pytag, $plat) from $SRC"

  # 1. the source as committed (plus uncommitted changes: such a build is named -dirty)
  mkdir -p "$work/src"
  if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
       [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -C "$work/src" -xf -
  else
    tar -C "$SRC" --exclude=.venv --exclude=.git --exclude=__pycache__ --exclude='*.egg-info' \
      --exclude=build --exclude=dist --exclude='*.db' --exclude='*.db-wal' --exclude='*.db-shm' -cf - . \
      | tar -C "$work/src" -xf -
  fi
  printf '"""Written by systemd/release.sh build: the name of this build."""\n\nVERSION = "%s"\n' "$name" \
    > "$work/src/mqtt_bridge/_build.py"
  sed -i -E "0,/^version *= *\"[^\"]*\"/s//version = \"$wver\"/" "$work/src/pyproject.toml"

  # 2. every dependency at the version and hash the lock names
  say "fetching the locked dependencies (hash-checked) into $WHEELHOUSE"
  lock_satisfied "$LOCK" "$WHEELHOUSE" \
    || "$PY" -m pip download --quiet --no-deps --require-hashes -r "$LOCK" -d "$WHEELHOUSE" \
    || die "pip download failed: is the package index reachable from this build host?"
  # 3. those published only as source (evdev, pynfc) become wheels here, on the build host
  local sdist
  for sdist in "$WHEELHOUSE"/*.tar.gz "$WHEELHOUSE"/*.zip; do
    [ -e "$sdist" ] || continue
    local base stem
    base="$(basename "$sdist")"; stem="${base%.tar.gz}"; stem="${stem%.zip}"
    local dist="${stem%-*}" ver="${stem##*-}"
    if ! ls "$WHEELHOUSE" | grep -qiE "^${dist//[-_.]/[-_.]}-${ver//./\\.}-.*(none-any|${pytag}-.*${arch})\.whl$"; then
      say "building a wheel of $base (needs gcc and the Python headers on the build host)"
      "$PY" -m pip wheel --quiet --no-deps -w "$WHEELHOUSE" "$sdist" || die "could not build a wheel of $base"
    fi
  done
  # 4. the project itself
  local dest="$work/out/lobby-$name"
  mkdir -p "$dest/wheels" "$dest/share/lobby/doc"
  "$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$dest/wheels" "$work/src" 2>/dev/null \
    || "$PY" -m pip wheel --quiet --no-deps -w "$dest/wheels" "$work/src" || die "could not build the project's wheel"
  # 5. the release's own hash-pinned requirements: exactly the wheels it carries
  local req="$dest/requirements.txt" line pkg ver wheel norm
  {
    echo "# lobby $name: every package as a wheel, pinned by hash (pip install --no-index --require-hashes)"
    echo "# made from $(basename "$LOCK") sha256 $(sha256sum "$LOCK" | cut -c1-64)"
  } > "$req"
  while IFS= read -r line; do
    [[ "$line" =~ ^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+) ]] || continue
    pkg="${BASH_REMATCH[1]}"; ver="${BASH_REMATCH[2]}"
    [ "$pkg" = pip ] && continue   # the venv's own pip installs; it is not part of the release
    norm="$(tr 'A-Z' 'a-z' <<<"$pkg" | sed 's/[-_.]\+/_/g')"
    wheel="$(ls "$WHEELHOUSE" | while read -r f; do
               fn="$(tr 'A-Z' 'a-z' <<<"$f")"
               case "$fn" in "${norm}-${ver}-"*.whl) ;; *) continue ;; esac
               case "$fn" in *none-any.whl|*"$arch"*.whl) echo "$f"; break ;; esac
             done)"
    [ -n "$wheel" ] || die "no wheel of $pkg $ver for $pytag $plat in $WHEELHOUSE (build it on a $arch host)"
    cp "$WHEELHOUSE/$wheel" "$dest/wheels/"
    echo "$pkg==$ver --hash=sha256:$(sha256sum "$WHEELHOUSE/$wheel" | cut -c1-64)" >> "$req"
  done < "$LOCK"
  wheel="$(cd "$dest/wheels" && ls lobby-*.whl)"
  echo "lobby==$wver --hash=sha256:$(sha256sum "$dest/wheels/$wheel" | cut -c1-64)" >> "$req"

  # 6. what the Pi needs besides the wheels
  cp "$SRC/config/example.toml" "$dest/share/lobby/lobby.example.toml"
  local doc
  for doc in operator-guide.md scaling.md; do
    [ -f "$SRC/docs/$doc" ] && cp "$SRC/docs/$doc" "$dest/share/lobby/doc/"
  done
  cp "$SRC/systemd/release.sh" "$dest/lobby-release"
  chmod 0755 "$dest/lobby-release"
  cat > "$dest/RELEASE" <<EOF
name=$name
wheel_version=$wver
python=$pytag
platform=$plat
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo none)
lock_sha256=$(sha256sum "$LOCK" | cut -c1-64)
EOF
  local tarball="$OUT/lobby-$name-${pytag}-${plat//-/_}.tar.gz"
  tar -C "$work/out" --owner=0 --group=0 --numeric-owner -czf "$tarball" "lobby-$name"
  (cd "$OUT" && sha256sum "$(basename "$tarball")" > "$(basename "$tarball").sha256")
  say "built $tarball"
  echo "$tarball"
}

# --- the installed releases ------------------------------------------------------------------------
current_name() { local t; t="$(readlink "$L/current" 2>/dev/null)" || return 0; basename "$t"; }
previous_name() { local t; t="$(readlink "$L/previous" 2>/dev/null)" || return 0; basename "$t"; }

# swap LINK TARGET: point LINK at TARGET with one rename(2); a reader sees the old or the new link.
swap() {
  ln -sfn "$2" "$1.new"
  mv -Tf "$1.new" "$1"
}

# The units and /usr/local/bin/lobby run /opt/lobby/bin/lobby: a link through `current`.
ensure_bin_link() {
  if [ -d "$L/bin" ] && [ ! -L "$L/bin" ]; then
    # /opt/lobby was one virtual environment (before releases): put it aside, out of the way.
    local aside="$L/legacy-venv"
    mkdir -p "$aside"
    local part
    for part in include lib lib64 pyvenv.cfg .lobby-installed; do
      [ -e "$L/$part" ] || [ -L "$L/$part" ] && mv "$L/$part" "$aside/"
    done
    mv "$L/bin" "$aside/bin" && ln -s current/bin "$L/bin"
    warn "the old single virtual environment was moved to $LOBBY_DIR/legacy-venv (it cannot run from there);"
    warn "once this release is healthy, remove it: sudo rm -rf $LOBBY_DIR/legacy-venv"
  elif [ "$(readlink "$L/bin" 2>/dev/null)" != current/bin ]; then
    swap "$L/bin" current/bin
  fi
}

switch_to() {  # switch_to NAME: make releases/NAME current, the one left behind previous
  local name="$1" old
  [ -x "$RELEASES/$name/bin/lobby" ] && [ ! -e "$RELEASES/$name/.incomplete" ] || die "release $name is not installed"
  old="$(current_name)"
  swap "$L/current" "releases/$name"
  if [ -n "$old" ] && [ "$old" != "$name" ]; then
    swap "$L/previous" "releases/$old"
  fi
  ensure_bin_link
  # the boot's own clock at the switch, for the gate: a wall clock stepped by NTP in between
  # cannot make a start look earlier or later than the switch (lobby/doctor/started_check.py)
  SWITCHED_UPTIME="$(cut -d' ' -f1 /proc/uptime 2>/dev/null || true)"
  SWITCHED_BOOT="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)"
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" >> "$RELEASES/.history"
  say "current release: $name${old:+ (previous: $old)}"
}

units_in_use() {  # the services a release switch restarts and the gate watches
  local unit
  for unit in lobby-gateway.service lobby-kiosk.service; do
    if [ -n "$ROOT" ] || systemctl is-enabled --quiet "$unit" 2>/dev/null; then echo "$unit"; fi
  done
}

restart_services() {
  [ "$RESTART" = 1 ] || return 0
  local units
  mapfile -t units < <(units_in_use)
  [ ${#units[@]} -gt 0 ] || return 0
  if [ -n "$ROOT" ] && [ -n "$RESTART_CMD" ]; then
    say "restarting ${units[*]} with LOBBY_RELEASE_RESTART_CMD (--root test hook)"
    LOBBY_RELEASE_ROOT="$ROOT" LOBBY_RELEASE_CURRENT="$(current_name)" LOBBY_RELEASE_UNITS="${units[*]}" \
      bash -c "$RESTART_CMD" || warn "LOBBY_RELEASE_RESTART_CMD failed"
  elif [ -n "$ROOT" ]; then
    echo "would run: systemctl reset-failed ${units[*]}"
    echo "would run: systemctl restart ${units[*]}"
  elif [ -d /run/systemd/system ]; then
    systemctl reset-failed "${units[@]}" 2>/dev/null || true
    systemctl restart "${units[@]}" || warn "a service did not start: journalctl -u lobby-gateway -n 50"
  fi
}

# gateway_watched: the gate also waits for the gateway's acknowledged gateway.started on this release:
# where lobby-gateway is enabled and restarted by this run (in --root mode: when the test hook
# restarts a gateway).
gateway_watched() {
  [ "$RESTART" = 1 ] || return 1
  if [ -n "$ROOT" ]; then
    [ -n "$RESTART_CMD" ]
  else
    [ -d /run/systemd/system ] && systemctl is-enabled --quiet lobby-gateway.service 2>/dev/null
  fi
}

gate_checks() {  # the doctor's checks the gate runs
  if gateway_watched; then echo store,config,started; else echo store,config; fi
}

# healthy: the doctor's checks pass as the lobby user (store and config; started: the gateway
# published its gateway.started on this release since the switch and the broker acknowledged it),
# and the services are active.
probe() {
  local log="$1" only switched
  only="$(gate_checks)"
  switched="$(stat -c %.3Y "$L/current" 2>/dev/null || date +%s)"   # when `current` was last switched
  if [ -n "$ROOT" ]; then
    LOBBY_RELEASE_SWITCHED_AT="$switched" LOBBY_RELEASE_SWITCHED_UPTIME="$SWITCHED_UPTIME" \
      LOBBY_RELEASE_SWITCHED_BOOT="$SWITCHED_BOOT" \
      "$L/bin/lobby" doctor --only "$only" --config "$ROOT$CONF" >"$log" 2>&1 || return 1
    echo "would run: systemctl is-active $(units_in_use | tr '\n' ' ')" >>"$log"
    return 0
  fi
  runuser -u "$LOBBY_USER" -- env LOBBY_RELEASE_SWITCHED_AT="$switched" \
    LOBBY_RELEASE_SWITCHED_UPTIME="$SWITCHED_UPTIME" LOBBY_RELEASE_SWITCHED_BOOT="$SWITCHED_BOOT" \
    "$L/bin/lobby" doctor --only "$only" --config "$CONF" >"$log" 2>&1 || return 1
  if [ "$RESTART" = 1 ] && [ -d /run/systemd/system ]; then
    local unit
    for unit in $(units_in_use); do
      systemctl is-active --quiet "$unit" || { echo "$unit is not active" >>"$log"; return 1; }
    done
  fi
}

gate() {  # gate: 0 when healthy within GATE_TIMEOUT s (twice in a row, 3 s apart, on a real system)
  local log deadline streak=0 need=2 pause=3
  [ -n "$ROOT" ] && need=1 pause=1
  log="$(mktemp)"
  deadline=$(( $(date +%s) + GATE_TIMEOUT ))
  say "health gate: lobby doctor --only $(gate_checks) and the services, for up to ${GATE_TIMEOUT} s"
  while :; do
    if probe "$log"; then
      streak=$((streak + 1))
      if [ "$streak" -ge "$need" ]; then
        say "healthy: $(current_name)"
        rm -f "$log"
        return 0
      fi
    else
      streak=0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep "$pause"
  done
  warn "$(current_name) did not report healthy within ${GATE_TIMEOUT} s:"
  sed 's/^/    /' "$log" >&2
  rm -f "$log"
  return 1
}

gate_or_undo() {  # after a switch: keep it if healthy, otherwise switch back to what ran before
  [ "$GATE" = 1 ] || return 0
  gate && return 0
  local back
  back="$(previous_name)"
  [ -n "$back" ] || die "no earlier release to go back to; see lobby doctor"
  warn "rolling back to $back"
  switch_to "$back"
  restart_services
  gate || warn "the previous release $back is not healthy either: see lobby doctor"
  die "the new release was not healthy and was rolled back to $back"
}

prune() {  # keep the newest KEEP releases, never the current or the previous one
  local cur prev name kept=0
  cur="$(current_name)"; prev="$(previous_name)"
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    if [ "$name" = "$cur" ] || [ "$name" = "$prev" ]; then continue; fi
    kept=$((kept + 1))
    if [ $((kept + 2)) -gt "$KEEP" ]; then
      rm -rf -- "${RELEASES:?}/$name" "${PYCACHE:?}$LOBBY_DIR/releases/$name"
      say "removed the old release $name"
    fi
  done < <(ls -1t "$RELEASES" 2>/dev/null | grep -v '^\.')
}

install_release() {
  local tarball="${ARGS[0]:-}"
  [ -n "$tarball" ] && [ -f "$tarball" ] || die "install needs a release tarball (systemd/release.sh build makes one)"
  [ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root: sudo lobby-release install $tarball"
  if [ -f "$tarball.sha256" ]; then
    (cd "$(dirname "$tarball")" && sha256sum --quiet -c "$(basename "$tarball").sha256") \
      || die "$tarball does not match $tarball.sha256: a damaged copy"
  fi
  local top name
  tarball="$(readlink -f "$tarball")"
  top="$(tar -tzf "$tarball" | sed -n 1p)"; top="${top%%/*}"
  [[ "$top" =~ ^lobby-[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "$tarball is not a lobby release"
  name="$(tar -xzOf "$tarball" "$top/RELEASE" | sed -n 's/^name=//p')"
  [ "lobby-$name" = "$top" ] || die "$tarball: its RELEASE names '$name', its folder $top"
  mkdir -p "$RELEASES"
  local dest="$RELEASES/$name"
  if [ "$(current_name)" = "$name" ]; then
    say "release $name is already current"
    return 0
  fi
  if [ -d "$dest" ] && [ ! -e "$dest/.incomplete" ]; then
    say "release $name is already unpacked and verified: switching to it"
  else
    rm -rf -- "$dest"
    mkdir -p "$dest"
    touch "$dest/.incomplete"    # never current while this is there
    INCOMPLETE="$dest"
    trap '[ -n "${INCOMPLETE:-}" ] && [ -e "$INCOMPLETE/.incomplete" ] && rm -rf -- "$INCOMPLETE"' EXIT
    tar -xzf "$tarball" -C "$dest" --strip-components=1 --no-same-owner
    grep -q "^python=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')\$" "$dest/RELEASE" \
      || die "release $name was built for $(sed -n 's/^python=//p' "$dest/RELEASE"), this Pi has $("$PY" -V)"
    say "installing release $name into $LOBBY_DIR/releases/$name (no index, hash-checked wheels only)"
    "$PY" -m venv "$dest"
    clean_pip "$dest/bin/python" -m pip install --quiet --no-index --find-links "$dest/wheels" \
      --require-hashes --only-binary=:all: --no-deps -r "$dest/requirements.txt" \
      || die "installing release $name failed; the running release is untouched"
    link_lgpio "$dest"
    local said
    said="$("$dest/bin/lobby" --version 2>&1)" || die "release $name does not start: $said"
    [ "$said" = "lobby $name" ] || die "release $name reports '$said'"
    clean_pip "$dest/bin/python" -m pip check >/dev/null || die "release $name: pip check found missing dependencies"
    rm -rf -- "$dest/wheels"
    rm -f "$dest/.incomplete"
    INCOMPLETE=""
    say "release $name verified"
  fi
  switch_to "$name"
  restart_services
  gate_or_undo
  prune
}

# lgpio comes from apt (python3-lgpio, matching the kernel's liblgpio): linked into each release.
link_lgpio() {
  local venv="$1" site sys=/usr/lib/python3/dist-packages
  [ -f "$sys/lgpio.py" ] || return 0
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
  ln -sf "$sys/lgpio.py" "$site/lgpio.py"
  local so
  for so in "$sys"/_lgpio*.so; do
    [ -e "$so" ] && ln -sf "$so" "$site/$(basename "$so")"
  done
  return 0
}

rollback() {
  [ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root: sudo lobby-release rollback"
  local target="${TO:-$(previous_name)}"
  [ -n "$target" ] || die "no earlier release is kept to roll back to (lobby-release list)"
  [ "$target" != "$(current_name)" ] || die "$target is already current"
  say "rolling back from $(current_name) to $target"
  switch_to "$target"
  restart_services
  if [ "$GATE" = 1 ]; then
    gate || die "$target is not healthy either: see lobby doctor"
  fi
}

list() {
  local cur prev name
  cur="$(current_name)"; prev="$(previous_name)"
  for name in $(ls -1t "$RELEASES" 2>/dev/null | grep -v '^\.'); do
    local mark="  "
    [ "$name" = "$cur" ] && mark="* "
    [ "$name" = "$prev" ] && mark="< "
    [ -e "$RELEASES/$name/.incomplete" ] && mark="! "
    printf '%s%s  (%s)\n' "$mark" "$name" "$(sed -n 's/^built=//p' "$RELEASES/$name/RELEASE" 2>/dev/null)"
  done
  echo "(* current, < previous: what rollback goes to, ! incomplete)"
}

case "$ACTION" in
  build) build ;;
  install) install_release ;;
  rollback) rollback ;;
  gate)
    if ! gate; then
      [ "$ROLLBACK_ON_FAIL" = 1 ] || exit 1
      GATE=1; back="$(previous_name)"
      [ -n "$back" ] || die "not healthy, and no earlier release to go back to"
      switch_to "$back"; restart_services; gate || true
      die "not healthy: rolled back to $back"
    fi ;;
  list) list ;;
  current) current_name ;;
  name) SRC="${SRC:-$(cd "$HERE/.." && pwd)}"; build_name "$SRC" ;;
  -h|--help|help) usage ;;
  *) echo "usage: lobby-release build|install TARBALL|rollback|gate|list|current|name (see --help)" >&2; exit 64 ;;
esac
