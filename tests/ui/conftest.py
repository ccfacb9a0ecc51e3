"""pytest-qt on a qasync loop that Qt's own event loop drives (qt.md, Pattern A).

Clicks schedule coroutines and ``qtbot.waitUntil`` spins Qt, which runs them; no test calls
``run_until_complete``. Settings and model folders go to a temporary directory.
"""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6 import QtWidgets

from app.ui.async_bridge import attach_running_loop, detach_running_loop


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("ML_LAUNCHER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ML_LAUNCHER_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def qloop(qapp: QtWidgets.QApplication):
    loop = attach_running_loop(qapp)
    yield loop
    detach_running_loop(qapp, loop)
    # Collect the closed loop here, on the GUI thread: collected later on a worker thread, its
    # Qt timers cannot be unregistered there and one may fire into freed memory (a segfault).
    gc.collect()
