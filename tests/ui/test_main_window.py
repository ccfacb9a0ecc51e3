"""The whole panel against real model servers (interactive_substring_matching, real processes).

Pick a model, fill the form, launch, watch it become ready, read its logs, test it, stop it;
a server killed from outside shows as crashed; quitting stops every child process.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest
from PySide6 import QtCore, QtGui

from app.services.devices import list_devices
from app.services.registry import InstanceRegistry
from app.services.settings import Settings
from app.ui.async_bridge import spawn
from app.ui.main_window import MainWindow
from app.ui.workspace import Workspace
from backends.sdk.catalog import load_catalog

pytestmark = pytest.mark.ui

MODEL = "interactive_substring_matching"
START_TIMEOUT_MS = 30_000


class QuitAnswers:
    """Stands in for the quit dialog's answer (a modal box would block the test)."""

    def __init__(self, answer: bool):
        self.answer = answer
        self.asked: list[int] = []

    def __call__(self, _parent, running) -> bool:
        self.asked.append(len(running))
        return self.answer


@pytest.fixture
def quit_answers():
    return QuitAnswers(answer=True)


@pytest.fixture
def main_window(qtbot, qloop, tmp_path, quit_answers):
    registry = InstanceRegistry()
    win = MainWindow(confirm_quit=quit_answers)
    win.populate(registry, load_catalog(), list_devices(), Settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    stopping = spawn(registry.stop_all())
    qtbot.waitUntil(stopping.done, timeout=20_000)


@pytest.fixture
def workspace(main_window) -> Workspace:
    return main_window.workspace


def press_launch(qtbot, workspace: Workspace):
    """Press Launch and return the new server's instance and card (not yet ready)."""
    before = len(workspace.registry.instances)
    qtbot.mouseClick(workspace.model_panel.launch_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(workspace.registry.instances) == before + 1, timeout=10_000)
    instance = workspace.registry.instances[-1]
    return instance, workspace.instances.card(instance)


def launch(qtbot, workspace: Workspace):
    """Press Launch and wait until the new server answers /health."""
    instance, card = press_launch(qtbot, workspace)
    qtbot.waitUntil(lambda: card.state == "ready", timeout=START_TIMEOUT_MS)
    return instance, card


def test_launch_watch_test_and_stop(qtbot, workspace):
    workspace.catalog.select(MODEL)
    case_box = workspace.model_panel.form.editors["CASE_SENSITIVE"].widget
    qtbot.waitUntil(case_box.isVisible, timeout=1000)
    qtbot.mouseClick(case_box, QtCore.Qt.MouseButton.LeftButton)
    assert workspace.model_panel.state.values()["CASE_SENSITIVE"] is True
    instance, card = launch(qtbot, workspace)
    assert instance.spec.params["CASE_SENSITIVE"] is True
    assert card.state_badge.text() == "READY"
    assert card.url_label.text().startswith("http://127.0.0.1:")

    view = workspace.log_views[instance.id]
    qtbot.waitUntil(lambda: "Application startup complete" in view.text.toPlainText(), timeout=5000)
    workspace.log_tabs.setCurrentIndex(-1)
    qtbot.mouseClick(card.logs_button, QtCore.Qt.MouseButton.LeftButton)
    assert workspace.log_tabs.currentWidget() is view
    qtbot.mouseClick(card.copy_button, QtCore.Qt.MouseButton.LeftButton)
    assert QtGui.QGuiApplication.clipboard().text() == instance.url

    qtbot.mouseClick(card.test_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.test_result.property("ok") is not None, timeout=10_000)
    assert card.test_result.property("ok") == "true", card.test_result.text()

    pid = instance.pid
    qtbot.mouseClick(card.stop_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.state == "stopped", timeout=15_000)
    assert not psutil.pid_exists(pid)
    assert card.remove_button.isEnabled() and not card.stop_button.isEnabled()
    qtbot.mouseClick(card.remove_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: workspace.registry.instances == [], timeout=5000)
    assert instance.id not in workspace.instances.cards
    assert instance.id not in workspace.log_views


def test_bad_parameter_blocks_launch_with_its_message(qtbot, workspace):
    workspace.catalog.select("sklearn_text_classifier")
    panel = workspace.model_panel
    spin = panel.form.editors["LOGISTIC_REGRESSION_C"].widget
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "0")
    assert not panel.launch_button.isEnabled()
    assert panel.problem_label.text() == (
        "Regularisation C (LOGISTIC_REGRESSION_C) must be at least 0.0001, got 0.0"
    )
    qtbot.mouseClick(panel.launch_button, QtCore.Qt.MouseButton.LeftButton)
    assert workspace.registry.instances == []

    qtbot.keyClicks(spin, ".5")
    assert panel.launch_button.isEnabled()
    panel.launch_panel.expose_check.setChecked(True)
    assert not panel.launch_button.isEnabled()
    assert "needs a basic-auth user and password" in panel.problem_label.text()


def test_server_killed_from_outside_shows_as_crashed_and_restarts(qtbot, workspace):
    workspace.catalog.select(MODEL)
    instance, card = launch(qtbot, workspace)
    os.kill(instance.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: card.state == "crashed", timeout=10_000)
    assert card.state_badge.text() == "CRASHED"
    assert card.failure_box.isVisible()
    assert card.exit_label.text() == "Exit code -9"
    assert "SIGKILL" in card.failure_text.text()
    assert card.restart_button.isEnabled()
    qtbot.mouseClick(card.restart_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.state == "ready", timeout=START_TIMEOUT_MS)
    assert not card.failure_box.isVisible()


def test_quitting_asks_then_stops_every_server(qtbot, main_window, workspace, quit_answers):
    workspace.catalog.select(MODEL)
    launched = [press_launch(qtbot, workspace) for _ in range(2)]
    cards = [card for _, card in launched]
    qtbot.waitUntil(lambda: all(c.state == "ready" for c in cards), timeout=START_TIMEOUT_MS)
    pids = [instance.pid for instance, _ in launched]

    quit_answers.answer = False
    main_window.close()
    assert quit_answers.asked == [2]
    assert main_window.isVisible() and all(psutil.pid_exists(pid) for pid in pids)

    quit_answers.answer = True
    with qtbot.waitSignal(main_window.closed, timeout=20_000):
        main_window.close()
    assert not main_window.isVisible()
    assert [pid for pid in pids if psutil.pid_exists(pid)] == []
    assert {i.state.value for i in workspace.registry.instances} == {"stopped"}


def test_label_studio_tab_is_built_when_first_opened(qtbot, main_window):
    """Its SDK takes most of a second to import, so the first window does not wait for it."""
    from app.ui.labelstudio import LabelStudioPanel

    assert main_window.label_studio is None
    main_window.tabs.setCurrentIndex(1)
    assert isinstance(main_window.tabs.currentWidget(), LabelStudioPanel)
    assert main_window.tabs.currentWidget() is main_window.label_studio
    assert main_window.tabs.tabText(1) == "Label Studio"
    main_window.tabs.setCurrentIndex(0)
    main_window.tabs.setCurrentIndex(1)
    assert (
        main_window.tabs.count() == 2
        and main_window.tabs.currentWidget() is main_window.label_studio
    )
