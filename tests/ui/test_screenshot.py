"""``main.py --screenshot`` renders the real window offscreen and exits 0 (the README image)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6 import QtGui

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]


def test_screenshot_writes_the_window_as_png(tmp_path):
    target = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--screenshot", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    image = QtGui.QImage(str(target))
    assert (image.width(), image.height()) == (1360, 820)
    colours = {image.pixel(x, y) for x in range(0, 1360, 40) for y in range(0, 820, 40)}
    assert len(colours) > 5  # drawn widgets, not a blank frame
