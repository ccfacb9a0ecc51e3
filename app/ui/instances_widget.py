"""Running servers: one card each with its state, address, health figures and actions.

Cards observe their Instance (state_changed, stats_changed) and call its coroutines; they keep
nothing an Instance already knows. A crashed card says why in the instance's own sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from app.ui import resources
from app.ui.async_bridge import spawn
from app.ui.catalog_widget import badge
from backends.sdk.manifest import Capability

if TYPE_CHECKING:
    from app.services.instances import Instance
    from app.services.registry import InstanceRegistry

ANSWERING = {"ready", "busy", "training"}
FAILURE_TAIL_LINES = 6


def human_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class InstanceCard(QtWidgets.QFrame):
    open_logs = QtCore.Signal(object)  # Instance
    open_training = QtCore.Signal(object)  # Instance

    def __init__(self, instance: Instance, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.instance = instance
        self.setObjectName("instanceCard")
        self.state_badge = QtWidgets.QLabel(objectName="stateBadge")
        title = QtWidgets.QLabel(instance.manifest.title, objectName="cardTitle")
        self.url_label = QtWidgets.QLabel(objectName="muted")
        self.url_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = _tool_button("copy", "Copy the URL (paste it into Label Studio)")
        self.copy_button.clicked.connect(self.copy_url)
        self.stats_label = QtWidgets.QLabel(objectName="stat")
        self.stop_button = _tool_button("stop", "Stop the server", "Stop")
        self.restart_button = _tool_button("restart", "Stop and start again", "Restart")
        self.test_button = _tool_button("test", "Send /health and one sample prediction", "Test")
        self.logs_button = _tool_button("logs", "Open this server's log", "Logs")
        self.training_button = _tool_button(
            "training", "Training jobs, live curves and model versions", "Training"
        )
        self.training_button.setVisible(instance.manifest.has(Capability.TRAINING))
        self.remove_button = QtWidgets.QToolButton(text="Remove", toolTip="Forget this server")
        self.test_result = QtWidgets.QLabel(objectName="testResult", wordWrap=True)
        self.test_result.hide()

        self.failure_box = QtWidgets.QFrame(objectName="failureBox")
        self.failure_text = QtWidgets.QLabel(objectName="failureText", wordWrap=True)
        self.exit_label = QtWidgets.QLabel(objectName="muted")
        self.failure_tail = QtWidgets.QLabel(objectName="failureTail", wordWrap=True)
        self.failure_tail.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        box = QtWidgets.QVBoxLayout(self.failure_box)
        box.setContentsMargins(8, 6, 8, 6)
        for widget in (self.failure_text, self.exit_label, self.failure_tail):
            box.addWidget(widget)
        self.failure_box.hide()

        head = QtWidgets.QHBoxLayout()
        head.addWidget(self.state_badge)
        head.addWidget(title)
        self.runtime_badge: QtWidgets.QLabel | None = None
        if instance.spec.runtime == "docker":
            self.runtime_badge = badge("docker", "data")
            self.runtime_badge.setToolTip(f"In a container of {instance.spec.image or 'its image'}")
            head.addWidget(self.runtime_badge)
        head.addStretch(1)
        head.addWidget(self.url_label)
        head.addWidget(self.copy_button)
        actions = QtWidgets.QHBoxLayout()
        buttons = (self.stop_button, self.restart_button, self.test_button, self.logs_button)
        for button in (*buttons, self.training_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.remove_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(head)
        layout.addWidget(self.stats_label)
        layout.addWidget(self.failure_box)
        layout.addLayout(actions)
        layout.addWidget(self.test_result)

        self.stop_button.clicked.connect(lambda: spawn(instance.stop(), "stop"))
        self.restart_button.clicked.connect(lambda: spawn(instance.restart(), "restart"))
        self.test_button.clicked.connect(lambda: spawn(self.send_test_request(), "test request"))
        self.logs_button.clicked.connect(lambda: self.open_logs.emit(instance))
        self.training_button.clicked.connect(lambda: self.open_training.emit(instance))
        instance.state_changed.connect(self.on_state_changed)
        instance.stats_changed.connect(self.on_stats_changed)
        # a window closed while its servers still stop must not be called back afterwards
        self.destroyed.connect(self.detach)
        self.on_state_changed(instance)

    def detach(self) -> None:
        self.instance.state_changed.disconnect(self.on_state_changed)
        self.instance.stats_changed.disconnect(self.on_stats_changed)

    @property
    def state(self) -> str:
        return str(self.instance.state.value)

    def on_state_changed(self, _instance: Instance) -> None:
        state = self.state
        self.state_badge.setText(state.upper())
        for widget in (self.state_badge, self):
            widget.setProperty("state", state)
            widget.style().polish(widget)
        self.url_label.setText(self.address)
        self.copy_button.setEnabled(bool(self.address))
        self.stop_button.setEnabled(self.instance.state.running)
        self.restart_button.setEnabled(state != "stopping")
        self.test_button.setEnabled(state in ANSWERING)
        self.remove_button.setEnabled(state in {"stopped", "crashed"})
        crashed = state == "crashed"
        self.failure_box.setVisible(crashed)
        if crashed:
            self.failure_text.setText(self.instance.failure or "The server stopped unexpectedly.")
            self.exit_label.setText(f"Exit code {self.instance.exit_code}")
            tail = (self.instance.last_lines or self.instance.logs.tail(30))[-FAILURE_TAIL_LINES:]
            self.failure_tail.setText("\n".join(line.text for line in tail) or "(no output)")
        self.refresh_stats()

    def on_stats_changed(self, _instance: Instance) -> None:
        self.refresh_stats()

    def refresh_stats(self) -> None:
        if not self.instance.state.running:
            self.stats_label.setText("Not running")
            return
        stats = self.instance.stats
        uptime = self.instance.uptime
        parts = [
            f"Up {human_duration(uptime)}",
            f"CPU {stats.cpu_percent:.0f}%",
            f"RAM {human_bytes(stats.memory_bytes)}",
            f"{stats.requests_per_s:.1f} req/s",
            f"{stats.errors_total} error{'s' * (stats.errors_total != 1)}",
        ]
        if stats.gpu_memory_bytes is not None:  # known only with NVML and a GPU device
            parts.insert(3, f"GPU {human_bytes(stats.gpu_memory_bytes)}")
        self.stats_label.setText("  ·  ".join(parts))

    @property
    def address(self) -> str:
        """What Label Studio should be given: the network address when the server is exposed."""
        return self.instance.network_url or self.instance.url

    def copy_url(self) -> None:
        QtGui.QGuiApplication.clipboard().setText(self.address)

    async def send_test_request(self) -> None:
        self.test_button.setEnabled(False)
        self.test_result.setText("Sending a test request…")
        self.test_result.setProperty("ok", None)
        self.test_result.show()
        try:
            result = await self.instance.test_request()
        finally:
            self.test_button.setEnabled(self.state in ANSWERING)
        took = f" ({result.latency_ms:.0f} ms)" if result.latency_ms is not None else ""
        self.test_result.setText(f"{result.summary}{took}")
        self.test_result.setProperty("ok", "true" if result.ok else "false")
        self.test_result.style().polish(self.test_result)


def _tool_button(icon: str, tip: str, text: str = "") -> QtWidgets.QToolButton:
    button = QtWidgets.QToolButton(text=text, toolTip=tip)
    button.setIcon(resources.icon(icon))
    if text:
        button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return button


class InstancesWidget(QtWidgets.QWidget):
    """All instances of the registry, newest first, with a 1 s tick for uptimes."""

    open_logs = QtCore.Signal(object)
    open_training = QtCore.Signal(object)

    def __init__(self, registry: InstanceRegistry, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.registry = registry
        self.cards: dict[str, InstanceCard] = {}
        self.empty_label = QtWidgets.QLabel(
            "No server running. Pick a model, set its parameters and press Launch.",
            objectName="hint",
            wordWrap=True,
        )
        inner = QtWidgets.QWidget(objectName="serversColumn")
        self._column = QtWidgets.QVBoxLayout(inner)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.addWidget(self.empty_label)
        self._column.addStretch(1)
        scroll = QtWidgets.QScrollArea(widgetResizable=True, objectName="serversScroll")
        scroll.setWidget(inner)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QtWidgets.QLabel("Servers", objectName="sectionTitle"))
        layout.addWidget(scroll, 1)
        self._tick = QtCore.QTimer(self, interval=1000)
        self._tick.timeout.connect(self._refresh_uptimes)
        self._tick.start()
        registry.added.connect(self.on_added)
        registry.removed.connect(self.on_removed)
        for instance in registry.instances:
            self.on_added(instance)

    def on_added(self, instance: Instance) -> None:
        card = InstanceCard(instance)
        card.open_logs.connect(self.open_logs)
        card.open_training.connect(self.open_training)
        card.remove_button.clicked.connect(lambda: spawn(self.registry.remove(instance), "remove"))
        self.cards[instance.id] = card
        self._column.insertWidget(0, card)
        self.empty_label.hide()

    def on_removed(self, instance: Instance) -> None:
        card = self.cards.pop(instance.id, None)
        if card is not None:
            card.detach()
            card.deleteLater()
        self.empty_label.setVisible(not self.cards)

    def _refresh_uptimes(self) -> None:
        for card in self.cards.values():
            if card.instance.state.running:
                card.refresh_stats()

    def card(self, instance: Instance) -> InstanceCard:
        return self.cards[instance.id]
