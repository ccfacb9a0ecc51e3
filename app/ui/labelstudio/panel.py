"""The Label Studio tab: connect to a server, pick a project, connect a running model to it.

Everything it does goes through ``app.services.labelstudio``; the widget only keeps what the
user picked. Work on the chosen project (pre-annotate, train, predictions) is the
:class:`WorkBox` below the connection controls.
"""

from __future__ import annotations

import webbrowser

from PySide6 import QtWidgets

from app.services.instances import Instance
from app.services.labelstudio import backends, projects
from app.services.labelstudio.connection import Studio, remember_token, remembered_token
from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.link import connect_instance
from app.services.labelstudio.local_studio import LocalStudio
from app.services.registry import InstanceRegistry
from app.ui.async_bridge import spawn
from app.ui.labelstudio.work import WorkBox


def _status(label: QtWidgets.QLabel, text: str, ok: bool | None) -> None:
    label.setText(text)
    label.setProperty("ok", None if ok is None else ("true" if ok else "false"))
    label.style().polish(label)


class LabelStudioPanel(QtWidgets.QWidget):
    def __init__(
        self,
        registry: InstanceRegistry,
        local_studio: LocalStudio | None = None,
        parent: QtWidgets.QWidget | None = None,
    ):
        super().__init__(parent)
        self.registry = registry
        self.local_studio = local_studio or LocalStudio()
        self.studio: Studio | None = None
        self.backend: backends.ConnectedBackend | None = None

        self.url_edit = QtWidgets.QLineEdit(
            "http://localhost:8080", placeholderText="Label Studio URL"
        )
        self.token_edit = QtWidgets.QLineEdit(
            placeholderText="Personal Access Token or legacy token"
        )
        self.token_edit.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.test_button = QtWidgets.QPushButton("Test connection")
        self.local_button = QtWidgets.QPushButton("Start a local Label Studio")
        self.connection_status = QtWidgets.QLabel(wordWrap=True)
        self.project_combo = QtWidgets.QComboBox(minimumContentsLength=30)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.create_button = QtWidgets.QPushButton("New project for the model")
        self.instance_combo = QtWidgets.QComboBox(minimumContentsLength=30)
        self.model_url_edit = QtWidgets.QLineEdit(
            placeholderText="worked out from where Label Studio runs; type to override"
        )
        self.interactive_check = QtWidgets.QCheckBox("Interactive (used while labeling)")
        self.connect_button = QtWidgets.QPushButton("Connect")
        self.disconnect_button = QtWidgets.QPushButton("Disconnect")
        self.backend_status = QtWidgets.QLabel(wordWrap=True)
        self.work = WorkBox()

        form = QtWidgets.QFormLayout()
        form.addRow("Label Studio", self.url_edit)
        form.addRow("Token", self.token_edit)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.local_button)
        buttons.addStretch()
        form.addRow("", buttons)
        form.addRow("", self.connection_status)
        project_row = QtWidgets.QHBoxLayout()
        for widget in (self.project_combo, self.refresh_button, self.create_button):
            project_row.addWidget(widget)
        form.addRow("Project", project_row)
        form.addRow("Model server", self.instance_combo)
        form.addRow("Address for Label Studio", self.model_url_edit)
        connect_row = QtWidgets.QHBoxLayout()
        for widget in (self.interactive_check, self.connect_button, self.disconnect_button):
            connect_row.addWidget(widget)
        connect_row.addStretch()
        form.addRow("", connect_row)
        form.addRow("", self.backend_status)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.work, 1)

        self.test_button.clicked.connect(lambda: spawn(self.test_connection(), "test connection"))
        self.local_button.clicked.connect(lambda: spawn(self.start_local(), "local Label Studio"))
        self.refresh_button.clicked.connect(lambda: spawn(self.load_projects(), "list projects"))
        self.create_button.clicked.connect(lambda: spawn(self.create_project(), "create project"))
        self.connect_button.clicked.connect(lambda: spawn(self.connect_backend(), "connect"))
        self.disconnect_button.clicked.connect(
            lambda: spawn(self.disconnect_backend(), "disconnect")
        )
        self.project_combo.currentIndexChanged.connect(lambda _i: spawn(self.on_project_changed()))
        self.url_edit.editingFinished.connect(self.fill_remembered_token)
        registry.added.connect(lambda _i: self.refresh_instances())
        registry.removed.connect(lambda _i: self.refresh_instances())
        self.refresh_instances()
        self._set_connected(False)

    # --- connection -------------------------------------------------------------------
    def fill_remembered_token(self) -> None:
        if self.token_edit.text():
            return
        try:
            self.token_edit.setText(remembered_token(self.url_edit.text()) or "")
        except (StudioError, RuntimeError):
            return  # no URL yet, or no keyring: the user types the token

    async def test_connection(self) -> bool:
        _status(self.connection_status, "Testing…", None)
        try:
            studio = Studio(self.url_edit.text(), self.token_edit.text())
        except StudioError as exc:
            _status(self.connection_status, str(exc), False)
            return False
        report = await studio.test()
        _status(self.connection_status, report.message, report.ok)
        if not report.ok:
            return False
        self.studio = studio
        try:
            remember_token(studio.url, studio.token)
        except RuntimeError as exc:  # no keyring: works now, asks again next time
            _status(self.connection_status, f"{report.message} ({exc})", True)
        await self.load_projects()
        return True

    async def start_local(self) -> None:
        self.local_button.setEnabled(False)
        try:
            url = await self.local_studio.start(
                lambda line: _status(self.connection_status, line[:200], None)
            )
            self.url_edit.setText(url)
            self.token_edit.setText(self.local_studio.credentials()[2])
            if await self.test_connection():
                user, password, _token = self.local_studio.credentials()
                QtWidgets.QApplication.clipboard().setText(password)
                _status(
                    self.connection_status,
                    f"Local Label Studio at {url}: log in as {user} "
                    "(password copied to the clipboard).",
                    True,
                )
                webbrowser.open(url)
        except StudioError as exc:
            _status(self.connection_status, str(exc), False)
        finally:
            self.local_button.setEnabled(True)

    # --- projects ------------------------------------------------------------------------
    async def load_projects(self) -> None:
        if self.studio is None:
            return
        keep = self.project_combo.currentData()
        found = await self.studio_call(projects.list_projects(self.studio))
        if found is None:
            return
        self.project_combo.blockSignals(True)
        self.project_combo.clear()
        for project in found:
            self.project_combo.addItem(project.label, project.id)
        index = self.project_combo.findData(keep)
        self.project_combo.setCurrentIndex(max(index, 0))
        self.project_combo.blockSignals(False)
        await self.on_project_changed()

    async def create_project(self) -> None:
        instance = self.current_instance()
        if self.studio is None or instance is None:
            _status(self.backend_status, "Connect to Label Studio and start a model first.", False)
            return
        title = f"{instance.manifest.title}"
        made = await self.studio_call(
            projects.create_project(self.studio, title, instance.manifest)
        )
        if made is not None:
            await self.load_projects()
            self.project_combo.setCurrentIndex(self.project_combo.findData(made.id))

    async def on_project_changed(self) -> None:
        project_id = self.project_combo.currentData()
        self.backend = None
        if self.studio is None or project_id is None:
            self._set_connected(False)
            return
        summary = await self.studio_call(projects.get_project(self.studio, project_id))
        instance = self.current_instance()
        if summary is not None and instance is not None:
            problem = projects.config_problem(instance.manifest, summary.label_config)
            _status(self.backend_status, problem or "This project fits the model.", problem is None)
        present = await self.studio_call(backends.list_backends(self.studio, project_id)) or []
        self.backend = present[0] if present else None
        self._show_backend()

    # --- backend ---------------------------------------------------------------------------
    def refresh_instances(self) -> None:
        keep = self.instance_combo.currentData()
        self.instance_combo.clear()
        for instance in self.registry.instances:
            self.instance_combo.addItem(f"{instance.manifest.title} — {instance.url}", instance.id)
        index = self.instance_combo.findData(keep)
        self.instance_combo.setCurrentIndex(max(index, 0))

    def current_instance(self) -> Instance | None:
        return self.registry.find(self.instance_combo.currentData() or "")

    async def connect_backend(self) -> None:
        instance, project_id = self.current_instance(), self.project_combo.currentData()
        if self.studio is None or instance is None or project_id is None:
            _status(self.backend_status, "Pick a project and a running model server first.", False)
            return
        _status(self.backend_status, "Connecting…", None)
        self.backend = await self.studio_call(
            connect_instance(
                self.studio,
                project_id,
                instance,
                model_url=self.model_url_edit.text().strip() or None,
                interactive=self.interactive_check.isChecked() or None,
            ),
            status=self.backend_status,
        )
        self._show_backend()

    async def disconnect_backend(self) -> None:
        if self.studio is None or self.backend is None:
            return
        removed = await self.studio_call(backends.disconnect(self.studio, self.backend.id))
        if removed is not None:
            self.backend = None
            self._show_backend()
            _status(self.backend_status, "Disconnected; Label Studio's webhook removed too.", True)

    def _show_backend(self) -> None:
        backend = self.backend
        self._set_connected(backend is not None)
        if backend is not None:
            version = backend.model_version
            text = f"Connected as “{backend.title}” ({backend.state}), model version {version}"
            warnings = " ".join(backend.warnings)
            _status(self.backend_status, f"{text}. {warnings}".strip(), not backend.warnings)
            instance = self.current_instance()
            here = instance.url if instance is not None else backend.url
            auth = instance.spec.basic_auth if instance is not None else None
            self.work.attach(self.studio, self.project_combo.currentData(), backend, here, auth)
        else:
            self.work.detach()

    def _set_connected(self, connected: bool) -> None:
        self.connect_button.setEnabled(not connected)
        self.disconnect_button.setEnabled(connected)

    async def studio_call(self, coro, status: QtWidgets.QLabel | None = None):
        """Await a service call; a StudioError becomes the red sentence under the controls."""
        try:
            return await coro
        except StudioError as exc:
            _status(status or self.connection_status, str(exc), False)
            return None
