"""The window's content: catalog | chosen model | running servers and their logs.

It wires the widgets to the services: a launch request goes to the registry, a launched
server gets a log tab, a removed one loses it.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from app.services.instances import Instance
from app.services.registry import InstanceRegistry
from app.services.settings import Settings
from app.services.spec import LaunchRefused, LaunchSpec
from app.ui.async_bridge import spawn
from app.ui.catalog_widget import CatalogWidget
from app.ui.instances_widget import InstancesWidget
from app.ui.log_view import LogView
from app.ui.model_panel import ModelPanel
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
        self.log_views: dict[str, LogView] = {}

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
        self.setSizes([330, 440, 590])
        self.setContentsMargins(10, 10, 10, 10)
        self.setObjectName("central")

        self.catalog.model_selected.connect(self.model_panel.show_model)
        self.model_panel.launch_requested.connect(lambda spec: spawn(self.launch(spec), "launch"))
        self.instances.open_logs.connect(self.open_logs)
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
        self.status.emit(f"{instance.manifest.title} launched at {instance.url}")
        return instance

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

    def close_log_tab(self, index: int) -> None:
        view = self.log_tabs.widget(index)
        for key, candidate in list(self.log_views.items()):
            if candidate is view:
                del self.log_views[key]
        self.log_tabs.removeTab(index)
        view.detach()
        view.deleteLater()

    def _on_instance_removed(self, instance: Instance) -> None:
        view = self.log_views.get(instance.id)
        if view is not None:
            self.close_log_tab(self.log_tabs.indexOf(view))

    def running(self) -> list[Instance]:
        return [i for i in self.registry.instances if i.state.running]
