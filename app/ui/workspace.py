"""The window's content: catalog | chosen model | running servers and their logs.

It wires the widgets to the services: a launch request goes to the registry, a launched
server gets a log tab, a removed one loses it, an image build shows its log in a tab too.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from PySide6 import QtCore, QtWidgets

from app.services.instances import Instance, InstanceState
from app.services.logs import LogBuffer
from app.services.registry import InstanceRegistry
from app.services.settings import Settings
from app.services.spec import LaunchRefused, LaunchSpec
from app.services.training_client import TrainingClient
from app.ui.async_bridge import spawn
from app.ui.catalog_widget import CatalogWidget
from app.ui.instances_widget import InstancesWidget
from app.ui.log_view import LogView
from app.ui.model_panel import ModelPanel
from app.ui.training import TrainingView
from backends.sdk.manifest import Manifest


class Workspace(QtWidgets.QSplitter):
    status = QtCore.Signal(str)  # a line for the status bar

    def __init__(
        self,
        registry: InstanceRegistry,
        catalog: dict[str, Manifest],
        devices: list[Any],
        settings: Settings,
        parent: QtWidgets.QWidget | None = None,
    ):
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.registry = registry
        self.catalog = CatalogWidget(catalog)
        self.model_panel = ModelPanel(catalog, devices, settings)
        self.instances = InstancesWidget(registry)
        self.log_tabs = QtWidgets.QTabWidget(documentMode=True, tabsClosable=True)
        self.log_tabs.tabCloseRequested.connect(self.close_log_tab)
        self.log_views: dict[str, LogView | TrainingView] = {}  # log, build and training tabs

        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.instances)
        logs = QtWidgets.QWidget()
        logs_layout = QtWidgets.QVBoxLayout(logs)
        logs_layout.setContentsMargins(0, 0, 0, 0)
        logs_layout.addWidget(QtWidgets.QLabel("Logs", objectName="sectionTitle"))
        logs_layout.addWidget(self.log_tabs, 1)
        right.addWidget(logs)
        right.setSizes([330, 470])
        for widget in (self.catalog, self.model_panel, right):
            self.addWidget(widget)
        self.setSizes([320, 400, 640])  # room for a server card's row of actions
        self.setContentsMargins(10, 10, 10, 10)
        self.setObjectName("central")

        self.catalog.model_selected.connect(self.model_panel.show_model)
        self.model_panel.launch_requested.connect(lambda spec: spawn(self.launch(spec), "launch"))
        self.model_panel.launch_panel.docker_box.build_started.connect(self.open_build_log)
        self.instances.open_logs.connect(self.open_logs)
        self.instances.open_training.connect(self.open_training)
        registry.removed.connect(self._on_instance_removed)

    async def launch(self, spec: LaunchSpec) -> Instance | None:
        self.status.emit(f"Launching {spec.model}…")
        try:
            instance = await self.registry.launch(spec)
        except LaunchRefused as refusal:
            self.model_panel.show_refusal(refusal)
            self.status.emit("Launch refused")
            return None
        self.open_logs(instance)
        if instance.state is InstanceState.CRASHED:  # the runtime could not start it
            self.model_panel.problem_label.setText(instance.failure)
            self.status.emit("Launch failed")
        else:
            self.status.emit(f"{instance.manifest.title} launched at {instance.url}")
        return instance

    async def reattach(self) -> list[Instance]:
        """Watch again the containers an earlier panel left running (none without an engine)."""
        # the docker SDK takes a fifth of a second to import: not on the GUI thread
        docker_runtime = await asyncio.to_thread(
            importlib.import_module, "app.services.docker_runtime"
        )
        found = await docker_runtime.reattach(self.registry)
        for instance in found:
            self.open_logs(instance)
        if found:
            count = f"{len(found)} running container{'s' * (len(found) != 1)}"
            self.status.emit(f"Re-attached to {count}")
        return found

    def open_logs(self, instance: Instance) -> LogView:
        view = self.log_views.get(instance.id)
        if view is None:
            view = LogView(instance.logs)
            self.log_views[instance.id] = view
            port = instance.url.rpartition(":")[2]
            self.log_tabs.addTab(view, f"{instance.manifest.title} :{port}")
            self.log_tabs.setTabToolTip(self.log_tabs.indexOf(view), instance.url)
        self.log_tabs.setCurrentWidget(view)
        return view

    def open_training(self, instance: Instance) -> TrainingView:
        """The server's training jobs, curves and versions, in a tab beside its log."""
        key = f"training {instance.id}"
        view = self.log_views.get(key)
        if view is None:
            view = TrainingView(TrainingClient(instance.url, instance.spec.basic_auth))
            self.log_views[key] = view
            port = instance.url.rpartition(":")[2]
            self.log_tabs.addTab(view, f"Training · {instance.manifest.title} :{port}")
        self.log_tabs.setCurrentWidget(view)
        return view

    def open_build_log(self, tag: str, log: LogBuffer) -> LogView:
        """A tab with the build's log as it comes; a new build of the same tag replaces it."""
        key = f"build {tag}"
        previous = self.log_views.get(key)
        if previous is not None:
            self.close_log_tab(self.log_tabs.indexOf(previous))
        view = LogView(log)
        self.log_views[key] = view
        self.log_tabs.addTab(view, f"Build {tag}")
        self.log_tabs.setCurrentWidget(view)
        return view

    def close_log_tab(self, index: int) -> None:
        view = self.log_tabs.widget(index)
        for key, candidate in list(self.log_views.items()):
            if candidate is view:
                del self.log_views[key]
        self.log_tabs.removeTab(index)
        if isinstance(view, TrainingView):
            spawn(_close_training(view), "close training view")
        else:
            view.detach()
            view.deleteLater()

    def _on_instance_removed(self, instance: Instance) -> None:
        for key in (instance.id, f"training {instance.id}"):
            view = self.log_views.get(key)
            if view is not None:
                self.close_log_tab(self.log_tabs.indexOf(view))

    def running(self) -> list[Instance]:
        return [i for i in self.registry.instances if i.state.running]


async def _close_training(view: TrainingView) -> None:
    await view.stop()
    await view.client.aclose()
    view.deleteLater()
