"""The generated parameter form: the right editor per type, defaults, marks, inline errors."""

from __future__ import annotations

import pytest
from PySide6 import QtWidgets

from app.ui.form_state import FormState
from app.ui.param_form import ParamForm
from backends.sdk.catalog import get_manifest
from backends.sdk.manifest import Manifest

pytestmark = pytest.mark.ui

EVERY_TYPE = Manifest.model_validate(
    {
        "name": "every_type",
        "title": "Every type",
        "description": "One parameter of each kind.",
        "model_class": "nowhere:Nothing",
        "capabilities": ["prediction"],
        "data_types": ["text"],
        "parameters": [
            {"name": "MODEL_NAME", "type": "string", "required": True, "help": "Which model"},
            {"name": "BATCH", "type": "integer", "default": 8, "minimum": 1, "maximum": 64},
            {"name": "THRESHOLD", "type": "float", "default": 0.5, "minimum": 0, "maximum": 1},
            {"name": "LOWER", "type": "boolean", "default": True},
            {"name": "MODE", "type": "choice", "default": "fast", "choices": ["fast", "exact"]},
            {"name": "OPENAI_API_KEY", "type": "secret", "required": True},
            {"name": "WEIGHTS", "type": "file"},
            {"name": "CACHE_DIR", "type": "folder"},
        ],
    }
)


@pytest.fixture
def form(qtbot):
    form = ParamForm()
    qtbot.addWidget(form)
    form.show()
    return form


def test_each_type_gets_its_editor_with_default_and_help(form):
    form.bind(FormState(EVERY_TYPE))
    editors = {name: editor.widget for name, editor in form.editors.items()}
    assert isinstance(editors["MODEL_NAME"], QtWidgets.QLineEdit)
    assert isinstance(editors["BATCH"], QtWidgets.QSpinBox)
    assert (editors["BATCH"].minimum(), editors["BATCH"].maximum()) == (1, 64)
    assert editors["BATCH"].value() == 8
    assert isinstance(editors["THRESHOLD"], QtWidgets.QDoubleSpinBox)
    assert editors["THRESHOLD"].value() == 0.5
    assert isinstance(editors["LOWER"], QtWidgets.QCheckBox) and editors["LOWER"].isChecked()
    assert isinstance(editors["MODE"], QtWidgets.QComboBox)
    assert editors["MODE"].currentText() == "fast"
    secret = form.editors["OPENAI_API_KEY"].line_edit
    assert secret.echoMode() is QtWidgets.QLineEdit.EchoMode.Password
    form.editors["OPENAI_API_KEY"].reveal_button.click()
    assert secret.echoMode() is QtWidgets.QLineEdit.EchoMode.Normal
    assert editors["WEIGHTS"].findChild(QtWidgets.QToolButton).toolTip() == "Choose a file"
    assert editors["CACHE_DIR"].findChild(QtWidgets.QToolButton).toolTip() == "Choose a folder"
    assert "Which model" in editors["MODEL_NAME"].toolTip()
    required = [
        label.text()
        for label in form.findChildren(QtWidgets.QLabel)
        if label.property("required") is True
    ]
    assert sorted(required) == ["Model name *", "Openai api key *"]


def test_required_fields_report_until_filled(qtbot, form):
    state = FormState(EVERY_TYPE)
    form.bind(state)
    assert form.error_labels["MODEL_NAME"].text() == "is required"
    qtbot.waitUntil(form.error_labels["MODEL_NAME"].isVisible, timeout=1000)
    assert state.first_problem() == "Model name (MODEL_NAME) is required"
    qtbot.keyClicks(form.editors["MODEL_NAME"].widget, "gpt-4o-mini")
    qtbot.keyClicks(form.editors["OPENAI_API_KEY"].line_edit, "sk-test")
    assert not form.error_labels["MODEL_NAME"].isVisible()
    assert state.valid
    assert state.values()["MODEL_NAME"] == "gpt-4o-mini"
    assert state.values()["OPENAI_API_KEY"] == "sk-test"


def test_out_of_range_number_is_named_with_the_manifests_words(qtbot, form):
    state = FormState(get_manifest("sklearn_text_classifier"))
    form.bind(state)
    spin = form.editors["LOGISTIC_REGRESSION_C"].widget
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "0")
    assert form.error_labels["LOGISTIC_REGRESSION_C"].text() == "must be at least 0.0001, got 0.0"
    assert not state.valid
    qtbot.keyClicks(spin, ".5")
    assert state.valid and state.values()["LOGISTIC_REGRESSION_C"] == 0.5


def test_state_changes_elsewhere_show_in_the_form(qtbot, form):
    """A preset or remembered value loaded into the state is what the widgets show."""
    state = FormState(get_manifest("sklearn_text_classifier"))
    form.bind(state)
    state.update({"START_TRAINING_EACH_N_UPDATES": 25, "LABEL_STUDIO_URL": "http://ls:8080"})
    assert form.editors["START_TRAINING_EACH_N_UPDATES"].widget.value() == 25
    assert form.editors["LABEL_STUDIO_URL"].widget.text() == "http://ls:8080"
    assert state.values()["START_TRAINING_EACH_N_UPDATES"] == 25
