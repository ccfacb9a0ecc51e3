"""Values remembered per model and named presets, through the real settings file."""

from __future__ import annotations

import pytest

from app.services.devices import list_devices
from app.services.settings import Settings
from app.ui.model_panel import ModelPanel
from backends.sdk.catalog import load_catalog

pytestmark = pytest.mark.ui

MODEL = "sklearn_text_classifier"


@pytest.fixture
def settings(tmp_path):
    return Settings(tmp_path)


def make_panel(qtbot, settings) -> ModelPanel:
    panel = ModelPanel(load_catalog(), list_devices(), settings)
    qtbot.addWidget(panel)
    panel.show()
    panel.show_model(MODEL)
    return panel


def test_launch_remembers_values_for_next_time(qtbot, settings):
    panel = make_panel(qtbot, settings)
    panel.state.set("START_TRAINING_EACH_N_UPDATES", 3)
    panel.launch_panel.debug_check.setChecked(True)
    with qtbot.waitSignal(panel.launch_requested) as launched:
        panel.launch_button.click()
    assert launched.args[0].params["START_TRAINING_EACH_N_UPDATES"] == 3

    reopened = make_panel(qtbot, settings)
    assert reopened.form.editors["START_TRAINING_EACH_N_UPDATES"].widget.value() == 3
    assert reopened.launch_panel.debug_check.isChecked()


def test_presets_save_load_and_delete(qtbot, settings):
    panel = make_panel(qtbot, settings)
    bar = panel.presets
    panel.state.set("LOGISTIC_REGRESSION_C", 0.25)
    assert bar.save("gentle")
    panel.state.set("LOGISTIC_REGRESSION_C", 50.0)
    assert bar.save("strict")
    assert [bar.combo.itemText(i) for i in range(bar.combo.count())] == ["gentle", "strict"]

    bar.combo.setCurrentText("gentle")
    bar.load_button.click()
    assert panel.form.editors["LOGISTIC_REGRESSION_C"].widget.value() == 0.25

    bar.delete_button.click()
    assert settings.presets(MODEL) == ["strict"]
    assert bar.combo.count() == 1 and not bar.load_button.isEnabled()


def test_a_form_with_a_problem_cannot_become_a_preset(qtbot, settings):
    panel = make_panel(qtbot, settings)
    panel.state.set("LOGISTIC_REGRESSION_C", "0")
    with qtbot.waitSignal(panel.presets.failed) as failed:
        assert not panel.presets.save("broken")
    assert failed.args == ["Fix the form before saving it as a preset."]
    assert settings.presets(MODEL) == []


def test_secrets_go_to_the_keyring_not_the_settings_file(qtbot, settings, memory_keyring):
    """The root conftest installs an in-memory keyring: no OS keyring runs on a headless box."""
    panel = make_panel(qtbot, settings)
    token = panel.form.editors["LABEL_STUDIO_API_KEY"].line_edit
    qtbot.keyClicks(token, "tok-123")
    panel.launch_button.click()
    assert "tok-123" not in settings.path.read_text()

    reopened = make_panel(qtbot, settings)
    assert reopened.form.editors["LABEL_STUDIO_API_KEY"].line_edit.text() == "tok-123"
