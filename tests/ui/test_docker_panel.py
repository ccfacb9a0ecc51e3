"""The panel's Docker launch mode against a real engine (tests/support/docker_engine.py).

Choose Docker, build the image from the panel, launch, watch, stop; quit leaving a container
running and find it again from a new window; the engine's refusals read as sentences.
"""

from __future__ import annotations

import pytest
from PySide6 import QtCore

from app.services.devices import Device, list_devices
from app.services.registry import InstanceRegistry
from app.services.settings import Settings
from app.ui.async_bridge import spawn
from app.ui.main_window import MainWindow
from app.ui.quit_dialogs import QuitChoice
from app.ui.workspace import Workspace
from backends.sdk.catalog import load_catalog
from tests.support.docker_engine import MODEL, docker_client, our_containers, sklearn_image

__all__ = ["docker_client", "our_containers", "sklearn_image"]  # the engine's fixtures

pytestmark = [pytest.mark.ui, pytest.mark.docker]

START_TIMEOUT_MS = 60_000
BUILD_TIMEOUT_MS = 300_000  # cached layers make it seconds; a first build fetches wheels
PRETEND_GPU = Device("cuda:0", "A GPU this engine cannot give a container")


class QuitAnswers:
    """Stands in for the quit dialog (a modal box would block the test)."""

    def __init__(self, answer: QuitChoice):
        self.answer = answer
        self.asked: list[int] = []

    def __call__(self, _parent, running) -> QuitChoice:
        self.asked.append(len(running))
        return self.answer


@pytest.fixture
def open_window(qtbot, qloop, tmp_path):
    """Factory: a new panel (new registry, as after a restart) answering quit with ``answer``."""
    registries = []

    def open_one(answer: QuitChoice = QuitChoice.STOP_ALL) -> MainWindow:
        registry = InstanceRegistry()
        registries.append(registry)
        window = MainWindow(confirm_quit=QuitAnswers(answer))
        devices = [*list_devices(), PRETEND_GPU]
        window.populate(registry, load_catalog(), devices, Settings(tmp_path / "config"))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield open_one
    for registry in registries:
        stopping = spawn(registry.stop_all())
        qtbot.waitUntil(stopping.done, timeout=30_000)


def choose_docker(qtbot, workspace: Workspace, model: str = MODEL):
    workspace.catalog.select(model)
    panel = workspace.model_panel.launch_panel
    panel.runtime_combo.setCurrentIndex(panel.runtime_combo.findData("docker"))
    box = panel.docker_box
    assert box.isVisible()
    qtbot.waitUntil(lambda: box.message_label.text() != "", timeout=10_000)  # engine asked
    return box


def press_launch(qtbot, workspace: Workspace):
    before = len(workspace.registry.instances)
    qtbot.mouseClick(workspace.model_panel.launch_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(workspace.registry.instances) == before + 1, timeout=30_000)
    instance = workspace.registry.instances[-1]
    return instance, workspace.instances.card(instance)


def log_text(workspace: Workspace, key: str) -> str:
    return workspace.log_views[key].text.toPlainText()


def wait_ready(qtbot, card) -> None:
    """Until the card says READY; else fail with what the server's log says."""
    try:
        qtbot.waitUntil(lambda: card.state == "ready", timeout=START_TIMEOUT_MS)
    except qtbot.TimeoutError:
        log = "\n".join(line.text for line in card.instance.logs.tail(40))
        pytest.fail(f"{card.state} after {START_TIMEOUT_MS} ms; the log ends:\n{log}")


def test_build_launch_watch_stop_in_a_container(qtbot, open_window, our_containers):
    workspace = open_window().workspace
    box = choose_docker(qtbot, workspace)
    tag = "ml-launcher/sklearn_text_classifier:latest"
    assert box.tag == tag

    steps: list[int] = []
    box.progress.valueChanged.connect(steps.append)
    with qtbot.waitSignal(box.build_finished, timeout=BUILD_TIMEOUT_MS) as finished:
        qtbot.mouseClick(box.build_button, QtCore.Qt.MouseButton.LeftButton)
        assert not workspace.model_panel.launch_button.isEnabled()  # not while it builds
    assert finished.args == [True], box.message_label.text()
    # the log view appends in batches every ~50 ms: the last line may still be on its way
    qtbot.waitUntil(lambda: f"Built {tag}." in log_text(workspace, f"build {tag}"), timeout=2000)
    assert "Step 1/" in log_text(workspace, f"build {tag}")
    assert steps[-1] == box.progress.maximum() > 1 and steps == sorted(steps)
    assert box.message_label.text().startswith(f"Built {tag} in ")
    assert tag in [box.tag_combo.itemText(i) for i in range(box.tag_combo.count())]

    instance, card = press_launch(qtbot, workspace)
    assert instance.spec.runtime == "docker" and instance.spec.image == tag
    assert card.runtime_badge is not None and card.runtime_badge.text() == "docker"
    wait_ready(qtbot, card)
    qtbot.waitUntil(
        lambda: "Application startup complete" in log_text(workspace, instance.id), timeout=10_000
    )
    assert "Starting container" in log_text(workspace, instance.id)
    (container,) = our_containers()
    assert container.status == "running"

    qtbot.mouseClick(card.test_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.test_result.property("ok") is not None, timeout=10_000)
    assert card.test_result.property("ok") == "true", card.test_result.text()

    qtbot.mouseClick(card.stop_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.state == "stopped", timeout=20_000)
    assert our_containers() == []


def test_quit_leaving_a_container_then_a_new_window_reattaches(
    qtbot, open_window, our_containers, sklearn_image
):
    first = open_window(QuitChoice.LEAVE_CONTAINERS)
    choose_docker(qtbot, first.workspace).set_tag(sklearn_image.tag)
    instance, card = press_launch(qtbot, first.workspace)
    wait_ready(qtbot, card)

    with qtbot.waitSignal(first.closed, timeout=20_000):
        first.close()
    assert first.confirm_quit.asked == [1]
    (container,) = our_containers()
    assert container.status == "running"

    second = open_window(QuitChoice.STOP_ALL)
    workspace = second.workspace
    spawn(workspace.reattach())  # as the application does once the window is up
    qtbot.waitUntil(lambda: len(workspace.registry.instances) == 1, timeout=20_000)
    (again,) = workspace.registry.instances
    card = workspace.instances.card(again)
    assert again.url == instance.url and card.runtime_badge is not None
    wait_ready(qtbot, card)
    qtbot.waitUntil(  # the lines it printed before the panel quit, read back from the engine
        lambda: "Application startup complete" in log_text(workspace, again.id), timeout=10_000
    )
    assert "▸ Re-attached to the running" in log_text(workspace, again.id).splitlines()[0]

    with qtbot.waitSignal(second.closed, timeout=30_000):
        second.close()
    assert second.confirm_quit.asked == [1]
    assert our_containers() == []


def test_engine_refusals_are_sentences_in_the_panel(
    qtbot, open_window, our_containers, sklearn_image
):
    workspace = open_window().workspace
    box = choose_docker(qtbot, workspace)
    box.set_tag("ml-launcher/not-built:nowhere")
    assert "not built yet: press Build image" in box.message_label.text()
    instance, card = press_launch(qtbot, workspace)
    assert card.state == "crashed"
    assert "ml-launcher/not-built:nowhere is not on this Docker engine" in card.failure_text.text()
    assert workspace.model_panel.problem_label.text() == instance.failure

    box.set_tag(sklearn_image.tag)
    assert box.message_label.text() == f"{sklearn_image.tag} is built and ready to run."
    device = workspace.model_panel.launch_panel.device_combo
    device.setCurrentIndex(device.findData(PRETEND_GPU.id))
    instance, card = press_launch(qtbot, workspace)
    assert card.state == "crashed"
    assert "Cannot use the GPU: this Docker engine has no GPU support" in card.failure_text.text()
    assert our_containers() == []


def test_without_an_engine_the_panel_says_where_it_looked(
    qtbot, open_window, monkeypatch, tmp_path
):
    socket = f"unix://{tmp_path}/no-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", socket)
    workspace = open_window().workspace
    reattached = spawn(workspace.reattach())
    qtbot.waitUntil(reattached.done, timeout=10_000)
    assert reattached.result() == []  # nothing to find, nothing to complain about

    box = choose_docker(qtbot, workspace)
    assert box.message_label.text().startswith(f"No Docker engine answers at DOCKER_HOST={socket}")
    with qtbot.waitSignal(box.build_finished, timeout=10_000) as finished:
        qtbot.mouseClick(box.build_button, QtCore.Qt.MouseButton.LeftButton)
    assert finished.args == [False]
    assert box.message_label.text().startswith("No Docker engine answers")
    _, card = press_launch(qtbot, workspace)
    assert card.state == "crashed"
    assert "The server could not be started: No Docker engine answers" in card.failure_text.text()
