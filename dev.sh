#!/usr/bin/env bash
# The project's two commands, each working on a fresh Debian 12 / Raspberry Pi OS
# Bookworm machine with nothing set up:
#
#   ./dev.sh demo    run the product on simulated hardware with a local broker
#   ./dev.sh test    run the whole test suite
#
# Both install what they need first (Debian packages, a virtual environment in
# .venv, the project and its Python dependencies) and reuse it on later runs.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

DEBIAN_PACKAGES=(
  python3 python3-venv python3-dev gcc linux-libc-dev   # venv; evdev builds from source
  mosquitto mosquitto-clients                           # local and test broker
  rabbitmq-server                                       # a three-node broker cluster for the cluster chaos test
  libnfc-bin libnfc-dev libfreefare-dev                 # libnfc + libfreefare for pynfc
  socat                                                 # serial/pty plumbing for installers
  fonts-noto-cjk                                        # Chinese text on screen and badges
  xvfb xdotool x11-utils                                # headless screen for UI tests/demo
  libgl1 libegl1 libmtdev1                              # Kivy's runtime libraries
  libzinnia0 tegaki-zinnia-simplified-chinese           # handwriting (手写) recogniser and its model
  fuse3 libfuse3-3                                      # the power-cut test's file system (tests/helpers/lazyfs.py)
  systemd imagemagick                                   # systemd-analyze (unit tests); screenshots (UI tests)
)
VENV=.venv
STAMP="$VENV/.installed"

say() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

ensure_debian_packages() {
  command -v dpkg-query >/dev/null || { say "not a Debian system: skipping system packages"; return; }
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_venv() {
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    say "installing the project and its Python packages into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[kiosk,test]"
    echo "$want" > "$STAMP"
  fi
}

case "${1:-}" in
  demo)
    shift
    ensure_debian_packages
    ensure_venv
    exec "$VENV/bin/lobby" demo --config config/example.toml "$@"
    ;;
  test)
    shift
    ensure_debian_packages
    ensure_venv
    # Three workers on two cores: most tests wait on processes, brokers and screens (the CPU is
    # busy ~60 % of a two-worker run), so a third worker overlaps the waits: 16 min -> 11.5 min.
    exec "$VENV/bin/python" -m pytest -n 3 --dist loadgroup "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo | ./dev.sh test [pytest args]" >&2
    exit 64
    ;;
esac
