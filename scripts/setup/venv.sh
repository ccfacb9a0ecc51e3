#!/usr/bin/env bash
# The project venv (.venv, Python 3.11) with the extras in ML_LAUNCHER_EXTRAS (default: what the
# tests need). pip runs only when pyproject.toml changed or more extras are wanted than last time:
# .venv/.ml-launcher-installed records "<sha256 of pyproject.toml> <extras>".
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
extras=${ML_LAUNCHER_EXTRAS:-panel,sklearn,dev}
venv=$repo/.venv
stamp=$venv/.ml-launcher-installed

if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo "setup/venv.sh: creating .venv with python3.11" >&2
    rm -rf "$venv"
    python3.11 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
fi

wanted_hash=$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)
installed_hash="" installed_extras=""
[ -f "$stamp" ] && read -r installed_hash installed_extras < "$stamp"
if [ "$installed_hash" = "$wanted_hash" ]; then
    missing=""
    for extra in ${extras//,/ }; do
        [[ ",$installed_extras," == *",$extra,"* ]] || missing=1
    done
    [ -n "$missing" ] || exit 0
    # the earlier extras stay installed: keep them on record
    extras=$(printf '%s,%s' "$installed_extras" "$extras" | tr , '\n' | sort -u | paste -sd, -)
fi

echo "setup/venv.sh: pip install -e .[$extras]" >&2
(cd "$repo" && "$venv/bin/pip" install -q --disable-pip-version-check -e ".[$extras]")
echo "$wanted_hash $extras" > "$stamp"
