"""The panel's window frame: shown at once, filled with the workspace right after.

The services (pydantic, httpx, keyring…) take longer to import than Qt takes to show a window,
so the frame appears first with a "Loading" line and :meth:`populate` adds the workspace on
the next turn of the loop. The frame also owns the one decision no widget can make alone:
quitting stops every server it started (after asking, when some are still running), except
the Docker containers the user chooses to leave serving: the next start finds them again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui, QtWidgets

from app.ui import resources
from app.ui.async_bridge import spawn, task_errors
from app.ui.quit_dialogs import QuitChoice, QuitQuestion, ask_to_stop, ask_to_stop_studio

if TYPE_CHECKING:
    from app.ui.labelstudio import LabelStudioPanel
    from app.ui.workspace import Workspace

LABEL_STUDIO_TAB = 1


class MainWindow(QtWidgets.QMainWindow):
    shown = QtCore.Signal()
    closed = QtCore.Signal()  # after every server is stopped

    def __init__(
        self,
        confirm_quit: QuitQuestion = ask_to_stop,
        stop_studio: Callable[[QtWidgets.QWidget], bool] = ask_to_stop_studio,
    ):
        super().__init__()
        self.confirm_quit = confirm_quit
        self.stop_studio = stop_studio
        self.workspace: Workspace | None = None
        self.label_studio: LabelStudioPanel | None = None
        self._stopped_all = False
        self._stopping = False
        self.setWindowTitle("ML Launcher")
        self.setWindowIcon(resources.icon("app"))
        self.resize(1360, 820)
        loading = QtWidgets.QLabel("Loading the model catalog…", objectName="hint")
        loading.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(loading)
        quit_action = QtGui.QAction("Quit", self, shortcut=QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.addAction(quit_action)
        task_errors.failed.connect(self._on_task_error)

    def populate(self, registry: Any, catalog: dict, devices: list[Any], settings: Any) -> None:
        from app.ui.workspace import Workspace  # the heavy imports, after the first paint

        self.workspace = Workspace(registry, catalog, devices, settings)
        self.workspace.status.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.tabs = QtWidgets.QTabWidget(documentMode=True, objectName="pages")
        self.tabs.addTab(self.workspace, "Models and servers")
        # label-studio-sdk takes most of a second to import: only when the tab is first opened
        self.tabs.addTab(QtWidgets.QWidget(), "Label Studio")
        self.tabs.currentChanged.connect(lambda index: self._open_label_studio(registry, index))
        self.setCentralWidget(self.tabs)
        self.statusBar().showMessage(f"{len(catalog)} models in the catalog")

    def _open_label_studio(self, registry: Any, index: int) -> None:
        if index != LABEL_STUDIO_TAB or self.label_studio is not None:
            return
        from app.ui.labelstudio import LabelStudioPanel

        self.label_studio = LabelStudioPanel(registry)
        placeholder = self.tabs.widget(LABEL_STUDIO_TAB)
        self.tabs.blockSignals(True)  # replacing the page must not re-enter this handler
        self.tabs.removeTab(LABEL_STUDIO_TAB)
        self.tabs.insertTab(LABEL_STUDIO_TAB, self.label_studio, "Label Studio")
        self.tabs.setCurrentIndex(LABEL_STUDIO_TAB)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()

    def _on_task_error(self, what: str, message: str) -> None:
        self.statusBar().showMessage(f"{what.capitalize()} failed: {message}")

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        QtCore.QTimer.singleShot(0, self.shown.emit)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Close only once every server is stopped; stopping is async, so close twice."""
        if self._stopped_all or self.workspace is None:
            event.accept()
            self.closed.emit()
            return
        event.ignore()
        if self._stopping:
            return
        running = self.workspace.running()
        choice = QuitChoice(self.confirm_quit(self, running)) if running else QuitChoice.STOP_ALL
        if choice is QuitChoice.STAY:
            return
        self._stopping = True
        leave = choice is QuitChoice.LEAVE_CONTAINERS
        self.statusBar().showMessage(
            "Stopping the local servers…" if leave else "Stopping every server…"
        )
        spawn(self._stop_all_then_close(leave_containers=leave), "quit")

    async def _stop_all_then_close(self, leave_containers: bool) -> None:
        try:
            await self.workspace.registry.stop_all(leave_containers=leave_containers)
            studio = self.label_studio.local_studio if self.label_studio else None
            if studio is not None and studio.running and self.stop_studio(self):
                await studio.stop()
        finally:
            self._stopped_all = True
            self.close()
