"""A trainable server's card opens its Training tab; training that cannot start says why there.

Real sklearn_text_classifier process; no Label Studio is configured, so Train now produces a
failed job whose error tells the user what to set.
"""

from __future__ import annotations

import pytest
from PySide6 import QtCore

from app.ui.training import TrainingView
from tests.ui.test_main_window import launch, main_window, quit_answers, workspace

__all__ = ["main_window", "quit_answers", "workspace"]

pytestmark = pytest.mark.ui


def test_training_tab_follows_a_job_and_closes_with_its_server(
    qtbot, workspace, ls_setup, monkeypatch
):
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(name, raising=False)  # the servers inherit the panel's environment
    workspace.catalog.select("interactive_substring_matching")
    _, plain_card = launch(qtbot, workspace)
    assert plain_card.training_button.isHidden()  # it does not train

    workspace.catalog.select("sklearn_text_classifier")
    instance, card = launch(qtbot, workspace)
    assert not card.training_button.isHidden()
    ls_setup(instance.url)  # what Label Studio's /setup would have told it

    qtbot.mouseClick(card.training_button, QtCore.Qt.MouseButton.LeftButton)
    view = workspace.log_tabs.currentWidget()
    assert isinstance(view, TrainingView)
    qtbot.waitUntil(lambda: view.project_box.count() > 0, timeout=10_000)
    qtbot.mouseClick(view.train_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "failed" in view.status_label.text().lower(), timeout=20_000)
    assert "LABEL_STUDIO_URL" in view.status_label.text() + view.problem_label.text()

    qtbot.mouseClick(card.stop_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.state == "stopped", timeout=15_000)
    qtbot.mouseClick(card.remove_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: f"training {instance.id}" not in workspace.log_views, timeout=5000)
    tabs = [workspace.log_tabs.widget(i) for i in range(workspace.log_tabs.count())]
    assert not any(isinstance(tab, TrainingView) for tab in tabs)


@pytest.fixture
def ls_setup():
    import httpx

    from backends.sdk.catalog import get_manifest

    def setup(url: str) -> None:
        config = get_manifest("sklearn_text_classifier").default_label_config
        body = {"project": "4.1712586036", "schema": config, "hostname": "", "access_token": ""}
        assert httpx.post(f"{url}/setup", json=body, timeout=10).status_code == 200

    return setup
