#!/usr/bin/env bash
# docker-engine.sh - a Docker engine for developing and testing ML Launcher on a box without
# systemd or a registry (Debian's docker.io dockerd, started by hand).
#
#   scripts/docker-engine.sh start        start dockerd (or reuse one already running), print env
#   scripts/docker-engine.sh stop         stop the dockerd this script started (by its PID file)
#   scripts/docker-engine.sh status       is it up, which socket
#   scripts/docker-engine.sh env          print `export DOCKER_HOST=...` for the running engine
#   scripts/docker-engine.sh base-image   build local/debian-python:bookworm without a registry
#                                         (debootstrap minbase + python3 + venv, tarball cached)
#
# State (images, layer cache, logs) lives in .cache/docker of the repository, so images and
# build layers survive stop/start. Settings: STATE_DIR, RUN_DIR (keep it short: unix socket
# paths must stay under 108 bytes), BASE_IMAGE, MIRROR (Debian mirror for debootstrap).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${STATE_DIR:-$REPO/.cache/docker}
if [ -z "${RUN_DIR:-}" ]; then
    RUN_DIR=$STATE_DIR/run
    # dockerd puts containerd.sock.ttrpc ~40 bytes below its exec-root: a deep checkout needs /run
    [ ${#RUN_DIR} -lt 60 ] || RUN_DIR=/run/ml-launcher-$(printf '%s' "$REPO" | md5sum | cut -c1-8)
fi
SOCK=$RUN_DIR/docker.sock
PIDFILE=$RUN_DIR/dockerd.pid
LOGFILE=$STATE_DIR/dockerd.log
ENVFILE=$STATE_DIR/env
BASE_IMAGE=${BASE_IMAGE:-local/debian-python:bookworm}
START_TIMEOUT=${START_TIMEOUT:-60}

log() { printf '[docker-engine %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ping_sock() { # $1 = socket path
    [ -S "$1" ] && curl -sf --max-time 2 --unix-socket "$1" http://localhost/_ping 2>/dev/null | grep -q OK
}

our_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid; pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

foreign_socket() {
    # Another dockerd on this box (another checkout, the system's): two engines would fight
    # over the docker0 bridge and the DOCKER iptables chains, so reuse it instead.
    local pid arg sock
    for pid in $(pgrep -x dockerd || true); do
        sock=/var/run/docker.sock
        while IFS= read -r -d '' arg; do
            case "$arg" in unix://*) sock=${arg#unix://} ;; esac
        done < "/proc/$pid/cmdline"
        if ping_sock "$sock"; then echo "$sock"; return 0; fi
    done
    return 1
}

write_env() { # $1 = socket
    # what the tests and `main.py launch --docker --build` need on a box without a registry:
    # the engine, the local base image, and host-built wheels (containers reach no index here)
    mkdir -p "$STATE_DIR"
    {
        echo "export DOCKER_HOST=unix://$1"
        echo "export ML_LAUNCHER_DOCKER_BASE_IMAGE=$BASE_IMAGE"
        echo "export ML_LAUNCHER_DOCKER_WHEELHOUSE=$REPO/.cache/wheelhouse"
    } > "$ENVFILE"
    cat "$ENVFILE"
}

cmd_start() {
    local sock pid
    if pid=$(our_pid); then log "dockerd already running (pid $pid)"; write_env "$SOCK"; return; fi
    if sock=$(foreign_socket); then log "reusing the dockerd already running at $sock"; write_env "$sock"; return; fi
    command -v dockerd >/dev/null || die "dockerd missing: run scripts/setup/docker.sh (apt-get install docker.io)"
    [ "$(id -u)" = 0 ] || die "dockerd needs root here (rootful engine)"
    mkdir -p "$STATE_DIR" "$RUN_DIR"
    rm -f "$SOCK"
    # setsid: own session, so the engine outlives this shell and is stopped by PID only
    setsid dockerd --data-root "$STATE_DIR/data" --exec-root "$RUN_DIR/exec" \
        --pidfile "$RUN_DIR/dockerd.pid.own" -H "unix://$SOCK" >"$LOGFILE" 2>&1 </dev/null &
    echo $! > "$PIDFILE"
    local i=0
    until ping_sock "$SOCK"; do
        our_pid >/dev/null || { tail -20 "$LOGFILE" >&2; die "dockerd exited during start-up (log: $LOGFILE)"; }
        i=$((i + 1)); [ $i -le $((START_TIMEOUT * 10)) ] || die "no answer after ${START_TIMEOUT}s (log: $LOGFILE)"
        sleep 0.1
    done
    log "dockerd up (pid $(cat "$PIDFILE")), socket $SOCK"
    write_env "$SOCK"
}

cmd_stop() {
    local pid i=0
    pid=$(our_pid) || { log "no dockerd started by this script is running"; rm -f "$PIDFILE"; return 0; }
    kill -TERM "$pid"   # dockerd stops its containers and its containerd, then exits
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1)); [ $i -ne 300 ] || { log "still alive after 30 s: SIGKILL $pid"; kill -KILL "$pid"; }
        sleep 0.1
    done
    rm -f "$PIDFILE" "$SOCK" "$ENVFILE"
    log "dockerd stopped"
}

cmd_status() {
    local pid sock
    if pid=$(our_pid); then log "dockerd running, pid $pid, socket $SOCK"
    elif sock=$(foreign_socket); then log "another dockerd is running, socket $sock"
    else log "no dockerd running"; return 1; fi
}

cmd_env() {
    local sock
    if our_pid >/dev/null; then sock=$SOCK; else sock=$(foreign_socket) || die "no engine running"; fi
    echo "export DOCKER_HOST=unix://$sock"
}

default_mirror() {
    local m
    m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
    [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

cmd_base_image() {
    # A stand-in for python:3.11-slim built from the Debian mirror only: the same Python minor
    # version, a shell and `python3 -m venv`, which is all packaging/docker/Dockerfile assumes.
    [ -n "${DOCKER_HOST:-}" ] || DOCKER_HOST=$(cmd_env | sed 's|^export DOCKER_HOST=||')
    export DOCKER_HOST
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then log "$BASE_IMAGE present"; return; fi
    local tarball=$STATE_DIR/cache/rootfs-bookworm-python.tar root=$STATE_DIR/rootfs.tmp
    mkdir -p "$STATE_DIR/cache"
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
        rm -rf "$root"
        log "debootstrap bookworm minbase + python3 (about a minute, cached afterwards)"
        debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" \
            "${MIRROR:-$(default_mirror)}" >"$STATE_DIR/debootstrap.log" 2>&1 \
            || { tail -20 "$STATE_DIR/debootstrap.log" >&2; die "debootstrap failed"; }
        rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
            "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
        tar -C "$root" --numeric-owner -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$root"
    fi
    docker import -c 'CMD ["python3"]' -c 'ENV LANG=C.UTF-8' "$tarball" "$BASE_IMAGE" >/dev/null
    log "imported $BASE_IMAGE"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    base-image) cmd_base_image ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
esac
