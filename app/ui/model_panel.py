"""The chosen model: what it is, its parameter form and presets, how to launch it.

Launch stays disabled while anything is wrong and the reason is printed beside it, in the
manifest's words for a parameter or the launch check's words for the rest.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from app.services.settings import Settings
from app.services.spec import LaunchRefused, LaunchSpec
from app.ui import resources
from app.ui.catalog_widget import CAPABILITY_LABELS, GPU_LABELS, badge
from app.ui.form_state import FormState
from app.ui.launch_panel import LaunchPanel
from app.ui.param_form import ParamForm
from app.ui.presets_bar import PresetsBar
from backends.sdk.manifest import Manifest


class ModelPanel(QtWidgets.QWidget):
    launch_requested = QtCore.Signal(object)  # LaunchSpec

    def __init__(
        self,
        catalog: dict[str, Manifest],
        devices: list[Any],
        settings: Settings,
        parent: QtWidgets.QWidget | None = None,
    ):
        super().__init__(parent)
        self.catalog = catalog
        self.settings = settings
        self.manifest: Manifest | None = None
        self.state: FormState | None = None

        self.title_label = QtWidgets.QLabel("Pick a model", objectName="modelTitle")
        self.description_label = QtWidgets.QLabel(objectName="modelDescription", wordWrap=True)
        self.badges = QtWidgets.QHBoxLayout()
        self.badges.setSpacing(4)
        self.presets = PresetsBar(settings, self.current_spec)
        self.form = ParamForm()
        self.launch_panel = LaunchPanel(devices)
        self.problem_label = QtWidgets.QLabel(objectName="launchProblem", wordWrap=True)
        self.launch_button = QtWidgets.QPushButton("Launch", objectName="launchButton")
        self.launch_button.setIcon(resources.icon("launch"))
        self.launch_button.setEnabled(False)

        self.form.setObjectName("paramForm")
        form_scroll = QtWidgets.QScrollArea(widgetResizable=True, objectName="formScroll")
        form_scroll.setWidget(self.form)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.problem_label, 1)
        bottom.addWidget(self.launch_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title_label)
        layout.addWidget(self.description_label)
        layout.addLayout(self.badges)
        layout.addWidget(QtWidgets.QLabel("Parameters", objectName="sectionTitle"))
        layout.addWidget(self.presets)
        layout.addWidget(form_scroll, 1)
        layout.addWidget(QtWidgets.QLabel("Launch", objectName="sectionTitle"))
        layout.addWidget(self.launch_panel)
        layout.addLayout(bottom)

        self.form.changed.connect(self.refresh)
        self.launch_panel.changed.connect(self.refresh)
        self.launch_button.clicked.connect(self.launch)
        self.presets.loaded.connect(self.apply_spec)
        self.presets.failed.connect(self.problem_label.setText)

    def show_model(self, name: str) -> None:
        manifest = self.catalog[name]
        self.manifest = manifest
        self.title_label.setText(manifest.title)
        self.description_label.setText(manifest.description)
        while self.badges.count():
            item = self.badges.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for capability in manifest.capabilities:
            self.badges.addWidget(badge(CAPABILITY_LABELS[capability], capability.value))
        for data_type in manifest.data_types:
            self.badges.addWidget(badge(data_type, "data"))
        self.badges.addWidget(badge(GPU_LABELS.get(manifest.gpu, manifest.gpu), "data"))
        self.badges.addStretch(1)
        self.state = FormState(manifest)
        self.form.bind(self.state)
        self.launch_panel.set_model(manifest)
        self.presets.bind(name)
        remembered = self.settings.last_used(name)
        if remembered is not None:
            self.apply_spec(remembered)
        self.refresh()

    def apply_spec(self, spec: LaunchSpec) -> None:
        """Fill the form and launch options from remembered values or a preset."""
        self.state.reset()
        self.state.update(spec.params)
        self.launch_panel.apply(spec)
        self.refresh()

    def current_spec(self) -> LaunchSpec | None:
        """What Launch would start now, or None while the form has a problem."""
        if self.problem() is not None:
            return None
        options = self.launch_panel.options()
        return LaunchSpec(model=self.manifest.name, params=self.state.values(), **options)

    def problem(self) -> str | None:
        if self.state is None:
            return "Pick a model first."
        return self.state.first_problem() or self.launch_panel.problem()

    def refresh(self) -> None:
        problem = self.problem()
        self.problem_label.setText(problem if self.state is not None and problem else "")
        self.launch_button.setEnabled(problem is None)

    def launch(self) -> None:
        spec = self.current_spec()
        if spec is None:
            return
        self.settings.remember(spec)
        self.launch_requested.emit(spec)

    def show_refusal(self, refusal: LaunchRefused) -> None:
        """A launch the service refused: say why next to Launch (and at the field, if it is one)."""
        self.problem_label.setText(str(refusal))
        label = self.form.error_labels.get(refusal.field or "")
        if label is not None:
            label.setText(str(refusal).removeprefix(f"{refusal.field}: "))
            label.show()
