"""Which image a Docker launch runs: a tag to type or pick from the engine, and a Build button.

The engine is asked in the background (the list of built tags, a build), so a slow or absent
engine never freezes the form; what it says back (no engine, permission denied, a failed
build step) is shown here in its own words. The docker SDK is imported only once Docker is
chosen: a user who never runs containers never pays for it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from app.services.logs import LogBuffer, LogLine
from app.ui.async_bridge import spawn

if TYPE_CHECKING:
    from app.services.docker_images import BuildProgress
    from backends.sdk.manifest import Manifest

ENGINE_TIMEOUT_SECONDS = 5


class DockerImageBox(QtWidgets.QWidget):
    changed = QtCore.Signal()
    build_started = QtCore.Signal(str, object)  # the tag, the LogBuffer its build log goes to
    build_finished = QtCore.Signal(bool)  # built or not

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.manifest: Manifest | None = None
        self.cuda = False
        self.built_tags: list[str] | None = None  # None: not known (no engine, not asked yet)
        self.building = False
        self._default_tag = ""
        self.tag_combo = QtWidgets.QComboBox(editable=True)
        self.tag_combo.setToolTip(
            "The image to run: type a tag, or pick one already built on this Docker engine"
        )
        self.tag_combo.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed
        )
        self.build_button = QtWidgets.QPushButton("Build image")
        self.build_button.setToolTip("Build this model's image under the tag (layers are cached)")
        self.progress = QtWidgets.QProgressBar(textVisible=True, visible=False)
        self.progress.setFormat("Step %v/%m")
        self.message_label = QtWidgets.QLabel(objectName="muted", wordWrap=True)
        self.message_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )

        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.tag_combo, 1)
        row.addWidget(self.build_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message_label)

        self.tag_combo.currentTextChanged.connect(self._on_tag_changed)
        self.build_button.clicked.connect(self.start_build)

    @property
    def tag(self) -> str:
        return self.tag_combo.currentText().strip()

    def set_model(self, manifest: Manifest, cuda: bool) -> None:
        """A new model or device: its default tag, unless the user typed another one."""
        from app.services.docker_images import image_tag

        keep = self.manifest is manifest and self.tag not in ("", self._default_tag)
        self.manifest, self.cuda = manifest, cuda
        self._default_tag = image_tag(manifest, cuda)
        if not keep:
            self.tag_combo.setCurrentText(self._default_tag)
        self.built_tags = None
        self._show_state()

    def set_tag(self, tag: str) -> None:
        self.tag_combo.setCurrentText(tag)

    def problem(self) -> str | None:
        if self.building:
            return "Wait for the image build to finish."
        if not self.tag:
            return "Give the image tag to run, or press Build image."
        return None

    async def refresh_tags(self) -> None:
        """Ask the engine which of this model's images exist; its refusal is the message."""
        from app.services import docker_engine, docker_images

        manifest = self.manifest
        if manifest is None:
            return

        def ask() -> list[str]:
            client = docker_engine.connect(timeout=ENGINE_TIMEOUT_SECONDS)
            try:
                return docker_images.local_tags(client, manifest)
            finally:
                client.close()

        try:
            tags = await asyncio.to_thread(ask)
        except docker_engine.DockerFailure as exc:
            self.built_tags = None
            self._say(str(exc), error=True)
            return
        if manifest is not self.manifest:
            return  # another model was chosen meanwhile
        self.built_tags = tags
        typed = self.tag
        self.tag_combo.blockSignals(True)
        self.tag_combo.clear()
        self.tag_combo.addItems(tags)
        self.tag_combo.setCurrentText(typed)
        self.tag_combo.blockSignals(False)
        self._show_state()

    def start_build(self) -> asyncio.Task | None:
        """Build the image under the tag shown; Launch waits (problem()) until it is done."""
        if self.manifest is None or self.building or not self.tag:
            return None
        self._set_building(True)
        self.progress.setRange(0, 0)  # busy until the first step is known
        return spawn(self._build(self.manifest, self.tag), "image build")

    async def _build(self, manifest: Manifest, tag: str) -> None:
        """Its log goes to a LogBuffer shown in a log tab as it comes."""
        from app.services import docker_images, docker_runtime
        from app.services.docker_engine import DockerFailure

        log = LogBuffer()
        self._say(f"Building {tag}…")
        self.build_started.emit(tag, log)
        started = time.monotonic()
        built = False
        try:
            options = await asyncio.to_thread(
                docker_images.BuildOptions.for_extra, manifest.extra, self.cuda
            )
            await docker_runtime.build(
                manifest, options, lambda line: _append(log, line), self._on_progress, tag=tag
            )
        except DockerFailure as exc:
            _append(log, str(exc), "ERROR")
            self._say(str(exc).partition("\n")[0], error=True)
        else:
            built = True
            _append(log, f"Built {tag}.")
        finally:
            self._set_building(False)
        if built:
            await self.refresh_tags()
            self._say(f"Built {tag} in {time.monotonic() - started:.0f} s.")
        self.build_finished.emit(built)

    def _on_progress(self, progress: BuildProgress) -> None:
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.step)
        self.progress.setToolTip(progress.text)

    def _set_building(self, building: bool) -> None:
        self.building = building
        self.build_button.setEnabled(not building)
        self.tag_combo.setEnabled(not building)
        self.progress.setVisible(building)
        self.changed.emit()

    def _on_tag_changed(self, _text: str) -> None:
        self._show_state()
        self.changed.emit()

    def _show_state(self) -> None:
        if self.built_tags is None or not self.tag:
            self._say("")
        elif self.tag in self.built_tags:
            self._say(f"{self.tag} is built and ready to run.")
        else:
            self._say(f"{self.tag} is not built yet: press Build image, or pick a built tag.")

    def _say(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setObjectName("launchProblem" if error else "muted")
        self.message_label.style().polish(self.message_label)


def _append(log: LogBuffer, text: str, level: str = "INFO") -> None:
    log.append([LogLine(time=time.time(), level=level, text=text, source="stdout")])
