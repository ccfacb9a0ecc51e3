#!/usr/bin/env bash
# Regenerate docs/screenshot.png: the real panel, offscreen, with two real model servers
# launched, tested and logging. Settings and model folders go to a throwaway directory.
#   scripts/screenshot.sh [OUTPUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/screenshot.png}"
python="${PYTHON:-.venv/bin/python}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
QT_QPA_PLATFORM=offscreen \
ML_LAUNCHER_CONFIG_DIR="$scratch/config" \
ML_LAUNCHER_DATA_DIR="$scratch/data" \
"$python" - "$out" <<'PY'
import sys

from app.ui.application import run_gui

sys.exit(run_gui(screenshot=sys.argv[1], launch=("sklearn_text_classifier", "interactive_substring_matching")))
PY
