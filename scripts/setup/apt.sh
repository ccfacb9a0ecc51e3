#!/usr/bin/env bash
# Debian packages the panel and the tests need at run time: Qt's system libraries (offscreen and
# X11/xcb), a font, Debian's python3.11 venv support, and wrk for the benchmarks. Idempotent: apt runs only for what is
# missing. Without root it only warns (and fails under CI, where a missing library is a bug).
set -euo pipefail

packages=(
    libgl1 libegl1 libfontconfig1 libxkbcommon0 libglib2.0-0 libdbus-1-3 fonts-dejavu-core
    libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
    libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libx11-xcb1
    wrk  # bench/serve_throughput.py: a load generator that is not the bottleneck itself
)
# Debian splits venv/ensurepip out of python3.11; a python3.11 from elsewhere (pyenv) has them.
python=$(command -v python3.11 || true)
if [ -z "$python" ] || [[ "$(readlink -f "$python")" == /usr/bin/* ]]; then
    packages+=(python3.11 python3.11-venv)
fi

if ! command -v dpkg-query >/dev/null; then
    echo "setup/apt.sh: not a Debian system; install the Qt runtime libraries yourself" >&2
    exit 0
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "setup/apt.sh: missing Debian packages (run as root to install): ${missing[*]}" >&2
    [ -z "${CI:-}" ] || exit 1
    exit 0
fi
echo "setup/apt.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Lock::Timeout: wait for a concurrent apt (another set-up step) instead of failing.
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
