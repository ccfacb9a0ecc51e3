"""How to run the chosen model: as a local process or in a container (which image), address,
port, basic auth, device, logging, restarts.

The panel only says what is obviously wrong before a click (exposed without a password, a port
taken); the service's own check (spec.resolve) has the last word when Launch is pressed.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtWidgets

from app.services import ports
from app.services.spec import LaunchSpec
from app.ui.async_bridge import spawn
from app.ui.docker_image_box import DockerImageBox
from backends.sdk.manifest import Manifest

LOCALHOST = "127.0.0.1"
EVERYWHERE = "0.0.0.0"
RUNTIMES = {"local": "Local process", "docker": "Docker container"}


class LaunchPanel(QtWidgets.QWidget):
    """Emits ``changed`` when an option changes, so the Launch button can re-check."""

    changed = QtCore.Signal()

    def __init__(self, devices: list[Any], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.manifest: Manifest | None = None
        self.runtime_combo = QtWidgets.QComboBox(toolTip="Where the server runs")
        for runtime, label in RUNTIMES.items():
            self.runtime_combo.addItem(label, runtime)
        self.docker_box = DockerImageBox()
        self.expose_check = QtWidgets.QCheckBox("Expose on the network")
        self.expose_check.setToolTip(
            "Bind to all interfaces (0.0.0.0) so Label Studio on another machine can reach the "
            "server. Needs a basic-auth user and password."
        )
        self.host_label = QtWidgets.QLabel(LOCALHOST, objectName="muted")
        self.auto_port_check = QtWidgets.QCheckBox("Pick a free port", checked=True)
        self.port_spin = QtWidgets.QSpinBox(minimum=1, maximum=65535, value=9090, enabled=False)
        self.port_spin.setToolTip("The port the server listens on")
        self.user_edit = QtWidgets.QLineEdit(placeholderText="user")
        self.password_edit = QtWidgets.QLineEdit(placeholderText="password")
        self.password_edit.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        for edit in (self.user_edit, self.password_edit):
            edit.setToolTip("HTTP basic auth for the server; Label Studio sends it with every call")
        self.device_combo = QtWidgets.QComboBox(toolTip="Where the model runs")
        for device in devices:
            memory = f" ({device.memory_bytes / 2**30:.0f} GiB)" if device.memory_bytes else ""
            self.device_combo.addItem(f"{device.name}{memory}", device.id)
        self.debug_check = QtWidgets.QCheckBox("Debug logging")
        self.restart_check = QtWidgets.QCheckBox("Restart if it crashes")

        address = QtWidgets.QHBoxLayout()
        address.addWidget(self.host_label)
        address.addWidget(self.expose_check)
        address.addStretch(1)
        port = QtWidgets.QHBoxLayout()
        port.addWidget(self.auto_port_check)
        port.addWidget(self.port_spin)
        port.addStretch(1)
        auth = QtWidgets.QHBoxLayout()
        auth.addWidget(self.user_edit)
        auth.addWidget(self.password_edit)
        switches = QtWidgets.QHBoxLayout()
        switches.addWidget(self.debug_check)
        switches.addWidget(self.restart_check)
        switches.addStretch(1)
        form = QtWidgets.QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Run as", self.runtime_combo)
        form.addRow("Image", self.docker_box)
        form.setRowVisible(self.docker_box, False)
        self._form = form
        form.addRow("Address", address)
        form.addRow("Port", port)
        self.auth_label = QtWidgets.QLabel("Basic auth")
        form.addRow(self.auth_label, auth)
        form.addRow("Device", self.device_combo)
        form.addRow("", switches)

        self.expose_check.toggled.connect(self._on_expose_toggled)
        self.auto_port_check.toggled.connect(lambda auto: self.port_spin.setEnabled(not auto))
        self.runtime_combo.currentIndexChanged.connect(self._on_runtime_changed)
        self.device_combo.currentIndexChanged.connect(self._on_device_changed)
        for signal in (
            self.runtime_combo.currentIndexChanged,
            self.docker_box.changed,
            self.expose_check.toggled,
            self.auto_port_check.toggled,
            self.port_spin.valueChanged,
            self.user_edit.textChanged,
            self.password_edit.textChanged,
        ):
            signal.connect(self.changed)

    @property
    def runtime(self) -> str:
        return self.runtime_combo.currentData()

    def set_model(self, manifest: Manifest) -> None:
        self.manifest = manifest
        if self.runtime == "docker":
            self._update_image_box()

    def _wants_gpu(self) -> bool:
        device = self.device_combo.currentData() or "cpu"
        return (
            device.startswith("cuda:") and self.manifest is not None and self.manifest.gpu != "none"
        )

    def _update_image_box(self) -> None:
        """The model's default image for the device, and which images the engine has."""
        if self.manifest is None:
            return
        self.docker_box.set_model(self.manifest, self._wants_gpu())
        spawn(self.docker_box.refresh_tags(), "listing the Docker images")

    def _on_runtime_changed(self) -> None:
        docker = self.runtime == "docker"
        self._form.setRowVisible(self.docker_box, docker)
        if docker:
            self._update_image_box()

    def _on_device_changed(self) -> None:
        if self.runtime == "docker":
            self._update_image_box()

    @property
    def host(self) -> str:
        return EVERYWHERE if self.expose_check.isChecked() else LOCALHOST

    def _on_expose_toggled(self, exposed: bool) -> None:
        self.host_label.setText(self.host)
        self.auth_label.setText("Basic auth *" if exposed else "Basic auth")
        self.auth_label.setProperty("required", exposed)
        self.auth_label.style().polish(self.auth_label)

    def basic_auth(self) -> tuple[str, str] | None:
        user, password = self.user_edit.text().strip(), self.password_edit.text()
        return (user, password) if user or password else None

    def problem(self) -> str | None:
        """Why Launch would be refused, as far as the panel can tell without launching."""
        if self.runtime == "docker" and (image_problem := self.docker_box.problem()):
            return image_problem
        auth = self.basic_auth()
        if auth and not all(auth):
            return "Basic auth needs both a user name and a password."
        if self.expose_check.isChecked() and not auth:
            return "Exposing the server on the network needs a basic-auth user and password."
        if not self.auto_port_check.isChecked() and ports.port_in_use(
            self.host, self.port_spin.value()
        ):
            return f"Port {self.port_spin.value()} is already in use: pick another or a free one."
        return None

    def apply(self, spec: LaunchSpec) -> None:
        """Show remembered or preset options; a device this machine lacks falls back to the CPU."""
        self.expose_check.setChecked(spec.host not in (LOCALHOST, "localhost"))
        self.auto_port_check.setChecked(spec.port is None)
        if spec.port is not None:
            self.port_spin.setValue(spec.port)
        user, password = spec.basic_auth or ("", "")
        self.user_edit.setText(user)
        self.password_edit.setText(password)
        index = self.device_combo.findData(spec.device)
        self.device_combo.setCurrentIndex(max(index, 0))
        self.debug_check.setChecked(spec.debug)
        self.restart_check.setChecked(spec.auto_restart)
        self.runtime_combo.setCurrentIndex(max(self.runtime_combo.findData(spec.runtime), 0))
        if spec.image:
            self.docker_box.set_tag(spec.image)

    def options(self) -> dict[str, Any]:
        """The LaunchSpec fields this panel decides."""
        return {
            "host": self.host,
            "port": None if self.auto_port_check.isChecked() else self.port_spin.value(),
            "device": self.device_combo.currentData() or "cpu",
            "debug": self.debug_check.isChecked(),
            "basic_auth": self.basic_auth(),
            "auto_restart": self.restart_check.isChecked(),
            "runtime": self.runtime,
            "image": self.docker_box.tag if self.runtime == "docker" else None,
        }
