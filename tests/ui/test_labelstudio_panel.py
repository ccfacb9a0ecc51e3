"""The Label Studio tab against a real Label Studio and a real launched model server:
test the connection, pick the project, connect the running model in one click,
pre-annotate every task, and disconnect (ML backend and webhook both gone)."""

from __future__ import annotations

import pytest
from label_studio_sdk import LabelStudio
from PySide6 import QtCore

from app.services.instances import InstanceState, LaunchSpec
from app.services.registry import InstanceRegistry
from app.ui.async_bridge import spawn
from app.ui.labelstudio import LabelStudioPanel
from backends.sdk.catalog import get_manifest
from tests.support.label_studio import running_label_studio

pytestmark = [pytest.mark.ui, pytest.mark.e2e]
CLICK = QtCore.Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    with running_label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        yield server


@pytest.fixture
def registry(qtbot, qloop):
    registry = InstanceRegistry()
    yield registry
    stopping = spawn(registry.stop_all())
    qtbot.waitUntil(stopping.done, timeout=20_000)


def test_connect_a_running_model_and_preannotate(qtbot, label_studio, registry, memory_keyring):
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.legacy_token)
    config = get_manifest("sklearn_text_classifier").default_label_config
    project = client.projects.create(title="panel project", label_config=config)
    client.projects.import_tasks(project.id, request=[{"text": f"line {i}"} for i in range(60)])
    launching = spawn(registry.launch(LaunchSpec("sklearn_text_classifier")))
    qtbot.waitUntil(launching.done, timeout=10_000)
    instance = launching.result()
    qtbot.waitUntil(lambda: instance.state is InstanceState.READY, timeout=60_000)

    panel = LabelStudioPanel(registry)
    qtbot.addWidget(panel)
    panel.url_edit.setText(label_studio.url)
    panel.token_edit.setText("wrong-token-000000")
    qtbot.mouseClick(panel.test_button, CLICK)
    qtbot.waitUntil(lambda: "refused the token" in panel.connection_status.text(), timeout=10_000)

    panel.token_edit.setText(label_studio.legacy_token)
    qtbot.mouseClick(panel.test_button, CLICK)
    qtbot.waitUntil(lambda: panel.project_combo.findData(project.id) >= 0, timeout=10_000)
    assert "Connected to Label Studio 1.23.2" in panel.connection_status.text()
    panel.project_combo.setCurrentIndex(panel.project_combo.findData(project.id))
    qtbot.waitUntil(lambda: "fits the model" in panel.backend_status.text(), timeout=10_000)

    qtbot.mouseClick(panel.connect_button, CLICK)
    qtbot.waitUntil(lambda: panel.work.isEnabled(), timeout=30_000)
    assert "Connected as “sklearn_text_classifier”" in panel.backend_status.text()
    [backend] = client.ml.list(project=project.id)
    assert backend.url == instance.url

    qtbot.mouseClick(panel.work.run_button, CLICK)
    qtbot.waitUntil(lambda: panel.work.message.text().startswith("Done"), timeout=60_000)
    assert "60 predictions stored" in panel.work.message.text()
    assert "60 of 60 stored" in panel.work.progress_label.text()
    assert (
        sum(t.total_predictions for t in client.tasks.list(project=project.id, fields="task_only"))
        == 60
    )

    def stored() -> int:
        tasks = client.tasks.list(project=project.id, fields="task_only")
        return sum(t.total_predictions for t in tasks)

    asked: list[str] = []
    panel.work.confirm_delete = lambda _parent, what: asked.append(what) or False
    qtbot.mouseClick(panel.work.delete_all_button, CLICK)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert asked == ["every prediction in this project"] and stored() == 60  # said no
    panel.work.confirm_delete = lambda _parent, _what: True
    qtbot.mouseClick(panel.work.delete_all_button, CLICK)
    qtbot.waitUntil(lambda: stored() == 0, timeout=15_000)

    qtbot.mouseClick(panel.disconnect_button, CLICK)
    qtbot.waitUntil(lambda: "Disconnected" in panel.backend_status.text(), timeout=15_000)
    assert client.ml.list(project=project.id) == []
    assert client.webhooks.list(project=str(project.id)) == []
