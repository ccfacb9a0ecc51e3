#!/usr/bin/env bash
# Label Studio for the e2e tests, in its own venv (its Django/pandas pins clash with ours), plus
# the pre-migrated template data dir the fixtures copy so each session starts it in seconds.
# First run ~3 min (pip ~1.5 min, ~1 GB; migrations ~1 min); afterwards a no-op.
# LS_VENV overrides where the venv lives (default .cache/ls-venv); the tests read it too.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
version=$(sed -n 's/^LS_VERSION = "\(.*\)"$/\1/p' "$repo/tests/support/label_studio.py")
export LS_VENV=${LS_VENV:-$repo/.cache/ls-venv}
stamp=$LS_VENV/.label-studio-$version

if [ ! -f "$stamp" ]; then
    echo "setup/label-studio.sh: installing label-studio==$version into $LS_VENV" >&2
    [ -x "$LS_VENV/bin/python" ] || python3.11 -m venv "$LS_VENV"
    "$LS_VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
    "$LS_VENV/bin/pip" install -q --disable-pip-version-check "label-studio==$version"
    touch "$stamp"
fi
# Stdlib-only module, so Label Studio's own interpreter can run it.
cd "$repo" && "$LS_VENV/bin/python" -m tests.support.label_studio build-template
