"""The parameter form, generated from a manifest and bound to a :class:`FormState` by name.

Each editor writes what the user typed into the state and shows what the state holds when
it changes elsewhere (a preset, remembered values): the echo pattern, so one state can have
several views and the form keeps no values of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtWidgets

from app.ui.form_state import FormState
from backends.sdk.manifest import Parameter, ParamType

INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12


class Editor:
    """One parameter's widget (what goes in the form) and how to show a value in it.

    The widget-to-state direction is a signal connection made when the editor is built.
    ``line_edit`` is the text field inside a composite editor (secret, file, folder).
    """

    def __init__(self, widget: QtWidgets.QWidget, show: Callable[[Any], None]):
        self.widget = widget
        self.show = show
        self.line_edit: QtWidgets.QLineEdit | None = None
        self.reveal_button: QtWidgets.QToolButton | None = None


Writer = Callable[[Any], None]


def _line_edit(param: Parameter, write: Writer) -> tuple[QtWidgets.QLineEdit, Editor]:
    edit = QtWidgets.QLineEdit()
    edit.setPlaceholderText("required" if param.required else "")
    edit.textChanged.connect(write)
    editor = Editor(edit, lambda v: edit.setText("" if v is None else str(v)))
    editor.line_edit = edit
    return edit, editor


def _spin_box(param: Parameter, write: Writer) -> Editor:
    if param.type is ParamType.INTEGER:
        spin = QtWidgets.QSpinBox()
        low, high = -INT_LIMIT, INT_LIMIT
    else:
        spin = QtWidgets.QDoubleSpinBox()
        spin.setDecimals(_decimals(param))
        spin.setStepType(QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        low, high = -FLOAT_LIMIT, FLOAT_LIMIT
    spin.setLocale(QtCore.QLocale.c())  # "0.5", whatever the desktop's locale, as coerce() reads it
    spin.setRange(
        low if param.minimum is None else param.minimum,
        high if param.maximum is None else param.maximum,
    )
    spin.lineEdit().textChanged.connect(write)  # also Intermediate text, so "0" is named

    def show(value: Any) -> None:
        try:
            spin.setValue(param.coerce(value))
        except (ValueError, TypeError):
            spin.lineEdit().setText("" if value is None else str(value))

    return Editor(spin, show)


def _decimals(param: Parameter) -> int:
    smallest = min((abs(x) for x in (param.minimum, param.default) if x), default=1.0)
    digits = 2
    while smallest * 10**digits < 1 and digits < 8:
        digits += 1
    return digits


def _secret(param: Parameter, write: Writer) -> Editor:
    edit, editor = _line_edit(param, write)
    edit.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
    toggle = QtWidgets.QToolButton(text="Show", checkable=True, objectName="revealButton")
    toggle.setToolTip("Show or hide the secret")
    toggle.toggled.connect(
        lambda on: (
            edit.setEchoMode(
                QtWidgets.QLineEdit.EchoMode.Normal if on else QtWidgets.QLineEdit.EchoMode.Password
            ),
            toggle.setText("Hide" if on else "Show"),
        )
    )
    editor.widget = _row(edit, toggle)
    editor.line_edit = edit
    editor.reveal_button = toggle
    return editor


def _path(param: Parameter, write: Writer) -> Editor:
    edit, editor = _line_edit(param, write)
    pick = QtWidgets.QToolButton(text="…", toolTip=f"Choose a {param.type.value}")

    def choose() -> None:
        if param.type is ParamType.FOLDER:
            chosen = QtWidgets.QFileDialog.getExistingDirectory(pick, param.label, edit.text())
        else:
            chosen, _ = QtWidgets.QFileDialog.getOpenFileName(pick, param.label, edit.text())
        if chosen:
            edit.setText(chosen)

    pick.clicked.connect(choose)
    editor.widget = _row(edit, pick)
    editor.line_edit = edit
    return editor


def _row(*widgets: QtWidgets.QWidget) -> QtWidgets.QWidget:
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    layout.addWidget(widgets[0], 1)
    for widget in widgets[1:]:
        layout.addWidget(widget)
    return row


def make_editor(param: Parameter, write: Writer) -> Editor:
    if param.type is ParamType.BOOLEAN:
        check = QtWidgets.QCheckBox()
        check.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Fixed)
        check.toggled.connect(write)
        return Editor(check, lambda v: check.setChecked(bool(param.coerce(v))))
    if param.type in (ParamType.INTEGER, ParamType.FLOAT):
        return _spin_box(param, write)
    if param.type is ParamType.CHOICE:
        combo = QtWidgets.QComboBox()
        combo.addItems(param.choices)
        combo.currentTextChanged.connect(write)
        return Editor(combo, lambda v: combo.setCurrentText("" if v is None else str(v)))
    if param.type is ParamType.SECRET:
        return _secret(param, write)
    if param.type in (ParamType.FILE, ParamType.FOLDER):
        return _path(param, write)
    return _line_edit(param, write)[1]


class ParamForm(QtWidgets.QWidget):
    """Emits ``changed`` whenever a value, and so possibly the form's validity, changes."""

    changed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state: FormState | None = None
        self.editors: dict[str, Editor] = {}
        self.error_labels: dict[str, QtWidgets.QLabel] = {}
        self._echoing = False
        self._writing: str | None = None
        self._layout = QtWidgets.QFormLayout(self)
        self._layout.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow
        )
        self._layout.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.DontWrapRows)

    def bind(self, state: FormState) -> None:
        """Show a new model's parameters; the old editors go away with their bindings."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self.editors.clear()
        self.error_labels.clear()
        if self.state is not None:
            self.state.unsubscribe(self._on_state_changed)
        self.state = state
        if not state.manifest.parameters:
            none = QtWidgets.QLabel("This model takes no parameters.", objectName="hint")
            self._layout.addRow(none)
        for param in state.manifest.parameters:
            self._add_row(param)
        state.subscribe(self._on_state_changed)
        for param in state.manifest.parameters:
            self._on_state_changed(param.name)

    def _add_row(self, param: Parameter) -> None:
        editor = make_editor(param, lambda raw, name=param.name: self._write(name, raw))
        tip = f"{param.help}\n\n{param.name}" if param.help else param.name
        editor.widget.setToolTip(tip)
        label = QtWidgets.QLabel(param.label + (" *" if param.required else ""))
        label.setToolTip(tip)
        label.setProperty("required", param.required)
        error = QtWidgets.QLabel(objectName="fieldError", wordWrap=True)
        error.hide()
        field = QtWidgets.QWidget()
        field.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred
        )  # the full width, so an error message wraps across the form, not under a spin box
        column = QtWidgets.QVBoxLayout(field)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        compact = isinstance(editor.widget, QtWidgets.QAbstractSpinBox | QtWidgets.QCheckBox)
        align = QtCore.Qt.AlignmentFlag.AlignLeft if compact else QtCore.Qt.AlignmentFlag(0)
        column.addWidget(editor.widget, 0, align)
        column.addWidget(error)
        self._layout.addRow(label, field)
        self.editors[param.name] = editor
        self.error_labels[param.name] = error

    def _write(self, name: str, raw: Any) -> None:
        if self._echoing or self.state is None or name not in self.editors:
            return
        self._writing = name  # no echo into the editor being typed in: the caret stays put
        try:
            self.state.set(name, raw)
        finally:
            self._writing = None

    def _on_state_changed(self, name: str) -> None:
        if self.state is None or name not in self.editors:
            return
        if name != self._writing:
            self._echoing = True
            try:
                self.editors[name].show(self.state.get(name))
            except ValueError:
                pass  # a stale remembered value the widget cannot show; the error label says why
            finally:
                self._echoing = False
        problem = self.state.error(name)
        self.error_labels[name].setText(problem or "")
        self.error_labels[name].setVisible(bool(problem))
        self.editors[name].widget.setProperty("invalid", bool(problem))
        self.editors[name].widget.style().polish(self.editors[name].widget)
        self.changed.emit()
