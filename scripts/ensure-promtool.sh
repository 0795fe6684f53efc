#!/usr/bin/env bash
# Print the absolute path of a working `promtool` on stdout, installing it if needed.
#
# Order: `$PROMTOOL` if set, then `promtool` on PATH, else Debian's `prometheus` package (which
# ships /usr/bin/promtool) via apt-get. Only the path goes to stdout; everything else, including
# apt's output, goes to stderr, so callers can do `PROMTOOL=$(bash scripts/ensure-promtool.sh)`.
#
# The package also ships a Prometheus server with a service. We only want promtool, so the
# install runs behind a policy-rc.d that forbids starting services; afterwards any server
# process that appeared during the install is stopped (through its service, then by pid), the
# service is disabled at boot, and the script fails if such a server is still running.
#
# Non-interactive (stdin is closed, DEBIAN_FRONTEND=noninteractive); needs root or passwordless
# sudo to install. Exits non-zero with a message on stderr whenever it cannot deliver a promtool
# that runs.
set -euo pipefail
exec </dev/null

PACKAGE=prometheus
POLICY_RC=/usr/sbin/policy-rc.d

log() { printf 'ensure-promtool: %s\n' "$*" >&2; }
die() {
    printf 'ensure-promtool: ERROR: %s\n' "$*" >&2
    exit 1
}

works() { [[ -x "$1" ]] && "$1" --version >/dev/null 2>&1; }

found() {
    local path
    path=$(readlink -f -- "$1")
    works "$path" || die "$1 exists but '$1 --version' fails"
    printf '%s\n' "$path"
    exit 0
}

if [[ -n "${PROMTOOL:-}" ]]; then
    works "$PROMTOOL" || die "PROMTOOL=$PROMTOOL is not an executable promtool"
    found "$PROMTOOL"
fi
if path=$(command -v promtool); then
    found "$path"
fi

log "promtool is not on PATH; installing Debian package '$PACKAGE'"
command -v apt-get >/dev/null ||
    die "no apt-get here; install promtool from https://prometheus.io/download/ and put it on PATH (or set PROMTOOL)"

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null ||
        die "installing $PACKAGE needs root or passwordless sudo; install promtool yourself or set PROMTOOL"
    SUDO=(sudo -n)
fi
as_root() { "${SUDO[@]}" "$@"; }

# pids of running Prometheus servers (exact process name), one per line.
command -v pgrep >/dev/null || die "pgrep (procps) is needed to check that the install starts no server"
servers() { pgrep -x prometheus || true; }
before=$(servers)

# Forbid service starts during the install unless the machine already has a policy (Docker
# images usually ship one that denies everything); ours is removed again on exit.
own_policy=false
cleanup() {
    if $own_policy; then as_root rm -f "$POLICY_RC" || log "could not remove $POLICY_RC"; fi
}
trap cleanup EXIT
if [[ ! -e "$POLICY_RC" ]]; then
    own_policy=true # before writing it, so that a failed chmod still removes it
    printf '#!/bin/sh\n# ensure-promtool.sh: no service starts during its install\nexit 101\n' |
        as_root tee "$POLICY_RC" >/dev/null
    as_root chmod 0755 "$POLICY_RC"
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef
    -o Dpkg::Options::=--force-confold)

has_candidate() {
    # Not a pipe into `grep -q`: it exits at the first match, and pipefail would then report
    # apt-cache's SIGPIPE as a failure.
    local policy
    policy=$(apt-cache policy "$PACKAGE" 2>/dev/null) || return 1
    [[ $policy =~ Candidate:\ [^\(] ]]
}
install() { as_root env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "$PACKAGE" >&2; }

if ! has_candidate; then
    log "no installation candidate for $PACKAGE; running apt-get update"
    as_root "${APT[@]}" update >&2 || die "apt-get update failed"
    has_candidate || die "apt has no package '$PACKAGE' (checked after apt-get update); install promtool yourself or set PROMTOOL"
fi
if ! install; then
    # A stale package index gives 404s for files the mirror no longer has.
    log "install failed; refreshing the package index and retrying once"
    as_root "${APT[@]}" update >&2 || die "apt-get update failed"
    install || die "apt-get install $PACKAGE failed (see apt's output above)"
fi

# Stop whatever server the install left behind (the service first, then its pids), and keep
# it from starting at boot: the package was installed for promtool only.
started=$(comm -13 <(sort <<<"$before") <(sort <<<"$(servers)") | sed '/^$/d' || true)
if [[ -d /run/systemd/system ]]; then
    if systemctl is-active --quiet "$PACKAGE" || systemctl is-failed --quiet "$PACKAGE"; then
        log "stopping the $PACKAGE service the package started"
        as_root systemctl stop "$PACKAGE" >&2 || true
        as_root systemctl reset-failed "$PACKAGE" >&2 || true
    fi
elif [[ -n "$started" && -x /etc/init.d/$PACKAGE ]]; then
    log "stopping the $PACKAGE service the package started"
    as_root /etc/init.d/$PACKAGE stop >&2 || true
fi
# `systemctl disable` also works without a running systemd and removes the SysV links too.
if command -v systemctl >/dev/null; then
    as_root systemctl disable "$PACKAGE" >/dev/null 2>&1 || log "could not disable the $PACKAGE service"
elif command -v update-rc.d >/dev/null; then
    as_root update-rc.d "$PACKAGE" disable >/dev/null 2>&1 || log "could not disable the $PACKAGE service"
fi
alive() { [[ -d /proc/$1 ]]; } # not `kill -0`: without root it fails on root's processes
for pid in $started; do
    if alive "$pid"; then
        log "stopping Prometheus server pid $pid started by the install"
        as_root kill -TERM "$pid" || true
    fi
done
for _ in $(seq 50); do
    remaining=$(for pid in $started; do alive "$pid" && echo "$pid"; done || true)
    [[ -z "$remaining" ]] && break
    sleep 0.2
done
[[ -z "${remaining:-}" ]] || die "Prometheus server pid(s) $remaining started by the install are still running"

path=$(command -v promtool) || die "installed $PACKAGE but promtool is not on PATH"
log "installed $("$path" --version 2>&1 | head -n 1)"
found "$path"
