#!/usr/bin/env bash
# Make sure commands the tests and benchmarks need exist, installing Debian packages if not.
#
# Usage: ensure-packages.sh COMMAND=PACKAGE [COMMAND=PACKAGE ...]
#   e.g. ensure-packages.sh chromium=chromium wrk=wrk
# A command already on PATH is left alone. Missing ones are installed in one apt-get call
# (after `apt-get update` when the package lists are stale or the first try fails).
# Non-interactive; needs root or passwordless sudo to install. Exits non-zero with a message
# when a command is still missing afterwards: the tests then fail loudly, they never skip.
set -euo pipefail
exec </dev/null

log() { printf 'ensure-packages: %s\n' "$*" >&2; }
die() {
    printf 'ensure-packages: ERROR: %s\n' "$*" >&2
    exit 1
}

[[ $# -gt 0 ]] || die "usage: $0 COMMAND=PACKAGE [...]"
missing_cmds=()
packages=()
for pair in "$@"; do
    [[ $pair == *=* ]] || die "expected COMMAND=PACKAGE, got '$pair'"
    cmd=${pair%%=*}
    pkg=${pair#*=}
    if ! command -v "$cmd" >/dev/null; then
        missing_cmds+=("$cmd")
        packages+=("$pkg")
    fi
done
[[ ${#packages[@]} -eq 0 ]] && exit 0

log "installing Debian package(s) ${packages[*]} for ${missing_cmds[*]}"
command -v apt-get >/dev/null || die "no apt-get here; install ${packages[*]} yourself"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null ||
        die "installing ${packages[*]} needs root or passwordless sudo; install them yourself"
    SUDO=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
install() { "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" >&2; }
if ! install; then
    log "first install attempt failed; refreshing the package lists"
    "${SUDO[@]}" apt-get update -q >&2 || die "apt-get update failed"
    install || die "apt-get install ${packages[*]} failed"
fi
for cmd in "${missing_cmds[@]}"; do
    command -v "$cmd" >/dev/null || die "'$cmd' is still missing after installing ${packages[*]}"
done
