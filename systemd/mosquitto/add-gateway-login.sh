#!/bin/sh
# One broker login per gateway, for the central mosquitto (password_file in central.conf).
#
#   add-gateway-login.sh PASSWORD_FILE GATEWAY_ID [SECRET_OUT]
#
# Makes a random password, adds GATEWAY_ID with it to PASSWORD_FILE (replacing an old
# entry of that id; the file is created if missing), and writes the password to
# SECRET_OUT (default ./GATEWAY_ID.mqtt-password, mode 0600). Then:
#
#   1. on the broker:  sudo systemctl reload mosquitto       (re-reads passwords and ACL)
#   2. on the Pi:      sudo install -m 0640 -o root -g lobby GATEWAY_ID.mqtt-password /etc/lobby/mqtt-password
#                      and in /etc/lobby/lobby.toml: [mqtt] username = "GATEWAY_ID",
#                      password_file = "/etc/lobby/mqtt-password"
#   3. delete the local SECRET_OUT copy.
#
# The username is the gateway_id (see the acl file for the convention). The password
# never appears on a command line: mosquitto_passwd -U hashes it from a 0600 temp file.
# Central systems (central, homeassistant, lobby-ops) are not gateways; add them by hand:
#   sudo mosquitto_passwd /etc/mosquitto/lobby.passwd central     (asks for the password)
set -eu

[ $# -ge 2 ] || { sed -n '2,20p' "$0" >&2; exit 64; }
passwd_file=$1
gateway=$2
secret_out=${3:-./$gateway.mqtt-password}

case $gateway in
  central|homeassistant|lobby-ops) echo "'$gateway' is reserved for central systems (see acl)" >&2; exit 65 ;;
esac
if ! printf '%s' "$gateway" | grep -Eq '^[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?$'; then
  echo "not a gateway id: '$gateway' (lower-case letters, digits, '-' and '_')" >&2
  exit 65
fi
command -v mosquitto_passwd >/dev/null || { echo "mosquitto_passwd not found (apt install mosquitto)" >&2; exit 69; }

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-28)
printf '%s:%s\n' "$gateway" "$password" > "$work/entry"
mosquitto_passwd -U "$work/entry"

touch "$passwd_file"
grep -v "^$gateway:" "$passwd_file" > "$work/rest" || true
cat "$work/rest" "$work/entry" > "$work/new"
cat "$work/new" > "$passwd_file"    # keep the file's owner and mode

printf '%s\n' "$password" > "$secret_out"
chmod 0600 "$secret_out"
echo "added login '$gateway' to $passwd_file; its password is in $secret_out" >&2
