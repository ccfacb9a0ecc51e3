"""Named presets per model: save what the form and launch options say, load it back, delete.

The settings service stores them (secrets in the keyring); this bar only names and picks.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from app.services.settings import Settings
from app.services.spec import LaunchSpec


class PresetsBar(QtWidgets.QWidget):
    loaded = QtCore.Signal(object)  # LaunchSpec
    failed = QtCore.Signal(str)  # why a preset could not be saved or loaded

    def __init__(
        self,
        settings: Settings,
        current_spec: Callable[[], LaunchSpec | None],
        parent: QtWidgets.QWidget | None = None,
    ):
        super().__init__(parent)
        self.settings = settings
        self.current_spec = current_spec
        self.model: str | None = None
        self.combo = QtWidgets.QComboBox(toolTip="Saved presets for this model")
        self.combo.setPlaceholderText("No presets")
        self.combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.load_button = QtWidgets.QPushButton("Load", toolTip="Fill the form from the preset")
        self.save_button = QtWidgets.QPushButton("Save as…", toolTip="Save the form as a preset")
        self.delete_button = QtWidgets.QPushButton("Delete", toolTip="Delete the preset")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QtWidgets.QLabel("Preset"))
        layout.addWidget(self.combo, 1)
        for button in (self.load_button, self.save_button, self.delete_button):
            layout.addWidget(button)
        self.load_button.clicked.connect(lambda: self.load(self.combo.currentText()))
        self.delete_button.clicked.connect(lambda: self.delete(self.combo.currentText()))
        self.save_button.clicked.connect(self._ask_and_save)
        self.combo.currentIndexChanged.connect(self._refresh_buttons)
        self._refresh_buttons()

    def bind(self, model: str) -> None:
        self.model = model
        self._reload(select=None)

    def _reload(self, select: str | None) -> None:
        self.combo.clear()
        if self.model is not None:
            self.combo.addItems(self.settings.presets(self.model))
        self.combo.setCurrentIndex(self.combo.findText(select) if select else -1)
        self._refresh_buttons()

    def _refresh_buttons(self) -> None:
        chosen = self.combo.currentIndex() >= 0
        self.load_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)
        self.save_button.setEnabled(self.model is not None)

    def save(self, name: str) -> bool:
        spec = self.current_spec()
        if spec is None:
            self.failed.emit("Fix the form before saving it as a preset.")
            return False
        try:
            self.settings.save_preset(name, spec)
        except ValueError as exc:
            self.failed.emit(str(exc))
            return False
        self._reload(select=name.strip())
        return True

    def load(self, name: str) -> None:
        try:
            spec = self.settings.load_preset(self.model, name)
        except LookupError as exc:
            self.failed.emit(str(exc))
            return
        self.loaded.emit(spec)

    def delete(self, name: str) -> None:
        self.settings.delete_preset(self.model, name)
        self._reload(select=None)

    def _ask_and_save(self) -> None:
        name, ok = QtWidgets.QInputDialog.getText(
            self, "Save preset", "Preset name:", text=self.combo.currentText()
        )
        if ok:
            self.save(name)
