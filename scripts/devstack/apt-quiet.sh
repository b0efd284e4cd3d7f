#!/usr/bin/env bash
# Install Debian packages that ship a daemon without starting it, now or at boot:
#   apt-quiet.sh COMMAND UNIT PACKAGE...
# Does nothing when COMMAND is already on PATH. The tests start their own servers in temp
# dirs, so a system service would only hold a port. policy-rc.d keeps apt from starting
# UNIT (removed by a trap even on Ctrl-C); the unit is then disabled so it does not start
# at the next boot. --no-install-recommends: recommends pull in more services.
set -euo pipefail
command_name="$1" unit="$2"
shift 2
if command -v "$command_name" >/dev/null 2>&1; then
    exit 0
fi
echo "$command_name not found: installing $* with apt-get"
sudo_cmd=""
[[ "$(id -u)" == 0 ]] || sudo_cmd="sudo"
made=0
trap '[[ "$made" == 1 ]] && $sudo_cmd rm -f /usr/sbin/policy-rc.d' EXIT INT TERM
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
    $sudo_cmd chmod 755 /usr/sbin/policy-rc.d
    made=1
fi
apt=($sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
rc=0
"${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "$@" </dev/null || rc=$?
if command -v systemctl >/dev/null 2>&1; then
    $sudo_cmd systemctl disable --now "$unit" >/dev/null 2>&1 || true
fi
if [[ "$rc" != 0 ]] || ! PATH="$PATH:/usr/sbin" command -v "$command_name" >/dev/null; then
    echo "installing $* failed" >&2
    exit 1
fi
