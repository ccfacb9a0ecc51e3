#!/usr/bin/env bash
# Install what the panel needs (once; again only when pyproject.toml changes), then open it.
# Arguments go to main.py, e.g. `bash scripts/run-app.sh serve sklearn_text_classifier`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/setup/apt.sh"
ML_LAUNCHER_EXTRAS=panel,sklearn bash "$repo/scripts/setup/venv.sh"
exec "$repo/.venv/bin/python" "$repo/main.py" "$@"
