#!/usr/bin/env bash
# CI/dev setup for the Docker tests (idempotent): install Debian's docker.io when dockerd is
# missing, start the engine (state in .cache/docker), import the local base image, and write
# .cache/docker/env (DOCKER_HOST and the offline build settings) for tests/docker.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "setup/docker.sh: run as root to install docker.io" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Lock::Timeout: wait for another apt instead of failing; no recommends keeps it to ~65 MB
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        docker.io debootstrap curl >/dev/null
fi
"$REPO/scripts/docker-engine.sh" start >/dev/null
"$REPO/scripts/docker-engine.sh" base-image
cat "$REPO/.cache/docker/env"
