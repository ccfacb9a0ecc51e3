"""The model catalog: one card per manifest, searchable and filterable, no model code imported."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from backends.sdk.manifest import Capability, Manifest

CAPABILITY_LABELS = {
    Capability.PREDICTION: "pre-annotation",
    Capability.INTERACTIVE: "interactive",
    Capability.TRAINING: "training",
}
DATA_TYPES = ("text", "image", "audio")
GPU_LABELS = {"none": "CPU only", "optional": "GPU optional", "required": "GPU required"}


def badge(text: str, kind: str) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setObjectName("badge")
    label.setProperty("kind", kind)
    return label


def required_summary(manifest: Manifest) -> str:
    required = [p.name for p in manifest.parameters if p.required]
    if required:
        return "Requires " + ", ".join(required)
    count = len(manifest.parameters)
    return f"{count} optional parameter{'s' * (count != 1)}" if count else "No parameters"


def matches(manifest: Manifest, text: str, capability: str, data_type: str) -> bool:
    """Whether a manifest passes the search box and both filters (empty means any)."""
    if capability and capability not in manifest.capabilities:
        return False
    if data_type and data_type not in manifest.data_types:
        return False
    haystack = " ".join(
        [manifest.name, manifest.title, manifest.description]
        + [p.name for p in manifest.parameters]
    ).lower()
    return all(word in haystack for word in text.lower().split())


class ModelCard(QtWidgets.QFrame):
    def __init__(self, manifest: Manifest, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("modelCard")
        title = QtWidgets.QLabel(manifest.title, objectName="cardTitle")
        gpu = QtWidgets.QLabel(GPU_LABELS.get(manifest.gpu, manifest.gpu), objectName="cardGpu")
        description = QtWidgets.QLabel(manifest.description, objectName="cardDescription")
        description.setWordWrap(True)
        description.setToolTip(manifest.description)
        head = QtWidgets.QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(gpu)
        badges = QtWidgets.QHBoxLayout()
        badges.setSpacing(4)
        for capability in manifest.capabilities:
            badges.addWidget(badge(CAPABILITY_LABELS[capability], capability.value))
        for data_type in manifest.data_types:
            badges.addWidget(badge(data_type, "data"))
        badges.addStretch(1)
        required = QtWidgets.QLabel(required_summary(manifest), objectName="cardRequired")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(description)
        layout.addLayout(badges)
        layout.addWidget(required)


class CardList(QtWidgets.QListWidget):
    """A list of card widgets that re-wraps each card to the list's width."""

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        width = self.viewport().width()
        for row in range(self.count()):
            item = self.item(row)
            card = self.itemWidget(item)
            item.setSizeHint(QtCore.QSize(width, card.heightForWidth(width)))


class CatalogWidget(QtWidgets.QWidget):
    model_selected = QtCore.Signal(str)

    def __init__(self, catalog: dict[str, Manifest], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.catalog = catalog
        self.search_edit = QtWidgets.QLineEdit(placeholderText="Search models…")
        self.search_edit.setClearButtonEnabled(True)
        self.capability_combo = QtWidgets.QComboBox(toolTip="Show models that can do this")
        self.capability_combo.addItem("Any capability", "")
        for capability, label in CAPABILITY_LABELS.items():
            self.capability_combo.addItem(label.capitalize(), capability.value)
        self.data_type_combo = QtWidgets.QComboBox(toolTip="Show models for this kind of data")
        self.data_type_combo.addItem("Any data", "")
        for data_type in DATA_TYPES:
            self.data_type_combo.addItem(data_type.capitalize(), data_type)
        self.list = CardList(objectName="catalogList")
        self.list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setVerticalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.empty_label = QtWidgets.QLabel("No model matches.", objectName="hint")
        self.empty_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.empty_label.hide()

        filters = QtWidgets.QHBoxLayout()
        filters.addWidget(self.capability_combo, 1)
        filters.addWidget(self.data_type_combo, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        heading = QtWidgets.QLabel("Models", objectName="sectionTitle")
        layout.addWidget(heading)
        layout.addWidget(self.search_edit)
        layout.addLayout(filters)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)

        for name, manifest in catalog.items():
            item = QtWidgets.QListWidgetItem(self.list)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, name)
            card = ModelCard(manifest)
            item.setSizeHint(card.sizeHint())
            self.list.setItemWidget(item, card)

        self.search_edit.textChanged.connect(self.apply_filters)
        self.capability_combo.currentIndexChanged.connect(self.apply_filters)
        self.data_type_combo.currentIndexChanged.connect(self.apply_filters)
        self.list.currentItemChanged.connect(self._on_current_changed)

    def apply_filters(self) -> None:
        text = self.search_edit.text()
        capability = self.capability_combo.currentData()
        data_type = self.data_type_combo.currentData()
        shown = 0
        for item in self._items():
            manifest = self.catalog[item.data(QtCore.Qt.ItemDataRole.UserRole)]
            visible = matches(manifest, text, capability, data_type)
            item.setHidden(not visible)
            shown += visible
        self.empty_label.setVisible(shown == 0)

    def visible_names(self) -> list[str]:
        return [i.data(QtCore.Qt.ItemDataRole.UserRole) for i in self._items() if not i.isHidden()]

    def select(self, name: str) -> None:
        for item in self._items():
            if item.data(QtCore.Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentItem(item)
                return
        raise KeyError(name)

    def _items(self) -> list[QtWidgets.QListWidgetItem]:
        return [self.list.item(row) for row in range(self.list.count())]

    def _on_current_changed(self, current: QtWidgets.QListWidgetItem | None, _previous) -> None:
        if current is not None:
            self.model_selected.emit(current.data(QtCore.Qt.ItemDataRole.UserRole))
