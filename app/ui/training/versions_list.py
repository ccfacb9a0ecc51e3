"""The project's model versions with their metrics; "Activate" rolls back (or forward)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.services.training_client import Version

COLUMNS = ("Version", "Active", "Created", "Metrics")


class VersionsList(QtWidgets.QWidget):
    activate_requested = QtCore.Signal(str)  # a version name

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS), objectName="versionsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.activate_button = QtWidgets.QPushButton("Activate", objectName="activateButton")
        self.activate_button.setToolTip("Serve this version again (rollback)")
        self.activate_button.setEnabled(False)
        self.versions: list[Version] = []

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.activate_button)
        layout.addLayout(row)
        self.table.itemSelectionChanged.connect(self._refresh_button)
        self.activate_button.clicked.connect(self._activate)

    def show_versions(self, versions: list[Version]) -> None:
        """Newest first, so the latest version is at the top like the newest job."""
        chosen = self.chosen()
        self.versions = list(reversed(versions))
        with QtCore.QSignalBlocker(self.table):
            self.table.setRowCount(len(self.versions))
            for row, version in enumerate(self.versions):
                metrics = "  ".join(f"{k} {v:.3g}" for k, v in sorted(version.metrics.items()))
                cells = (version.name, "✓" if version.active else "", version.created_at or "")
                for column, text in enumerate((*cells, metrics)):
                    self.table.setItem(row, column, QtWidgets.QTableWidgetItem(text))
            names = [v.name for v in self.versions]
            if chosen in names:
                self.table.selectRow(names.index(chosen))
        self._refresh_button()

    def chosen(self) -> str | None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        return self.versions[min(rows)].name if rows else None

    def choose(self, name: str) -> None:
        self.table.selectRow([v.name for v in self.versions].index(name))

    def active(self) -> str | None:
        return next((v.name for v in self.versions if v.active), None)

    def _refresh_button(self) -> None:
        chosen = self.chosen()
        self.activate_button.setEnabled(chosen is not None and chosen != self.active())

    def _activate(self) -> None:
        chosen = self.chosen()
        if chosen:
            self.activate_requested.emit(chosen)
