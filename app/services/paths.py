"""Where the panel keeps its files; environment overrides keep tests out of the user's home."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "ml-launcher"


def config_dir() -> Path:
    return Path(os.environ.get("ML_LAUNCHER_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """Model versions and training output of locally launched servers."""
    return Path(os.environ.get("ML_LAUNCHER_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))
