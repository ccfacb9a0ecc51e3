"""Work on a connected project: pre-annotate all, train, and manage the predictions."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from app.services.labelstudio import predictions, training
from app.services.labelstudio.backends import ConnectedBackend
from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.preannotate import JobOptions, PreannotateJob, Progress
from app.services.labelstudio.projects import get_project
from app.ui.async_bridge import spawn


def progress_text(progress: Progress) -> str:
    total = progress.total if progress.total is not None else "?"
    eta = f", about {progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
    failed = f", {progress.failed} failed" if progress.failed else ""
    return f"{progress.done} of {total} stored, {progress.rate:.0f} tasks/s{eta}{failed}"


def ask_to_delete(parent: QtWidgets.QWidget, what: str) -> bool:
    answer = QtWidgets.QMessageBox.question(
        parent,
        "Delete predictions",
        f"Delete {what} from Label Studio? This cannot be undone.",
        QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.Cancel,
        QtWidgets.QMessageBox.StandardButton.Cancel,
    )
    return answer == QtWidgets.QMessageBox.StandardButton.Yes


class WorkBox(QtWidgets.QGroupBox):
    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        confirm_delete: Callable[[QtWidgets.QWidget, str], bool] = ask_to_delete,
    ):
        super().__init__("Work on the project", parent)
        self.confirm_delete = confirm_delete
        self.studio: Studio | None = None
        self.project_id: int | None = None
        self.backend: ConnectedBackend | None = None
        self.backend_url = ""
        self.auth: tuple[str, str] | None = None
        self.job: PreannotateJob | None = None

        self.chunk_spin = QtWidgets.QSpinBox(
            minimum=1, maximum=1000, value=50, suffix=" tasks/request"
        )
        self.concurrency_spin = QtWidgets.QSpinBox(
            minimum=1, maximum=32, value=4, suffix=" at once"
        )
        self.run_button = QtWidgets.QPushButton("Pre-annotate all")
        self.cancel_button = QtWidgets.QPushButton("Cancel", enabled=False)
        self.retry_button = QtWidgets.QPushButton("Retry failed", enabled=False)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_label = QtWidgets.QLabel()
        self.failures_list = QtWidgets.QListWidget(maximumHeight=90)
        self.train_button = QtWidgets.QPushButton("Train now")
        self.auto_train_spin = QtWidgets.QSpinBox(
            minimum=0,
            maximum=100000,
            specialValueText="off",
            prefix="every ",
            suffix=" annotations",
        )
        self.training_label = QtWidgets.QLabel("No training yet.")
        self.versions_combo = QtWidgets.QComboBox(minimumContentsLength=24)
        self.show_button = QtWidgets.QPushButton("Show to annotators")
        self.delete_version_button = QtWidgets.QPushButton("Delete this version")
        self.delete_all_button = QtWidgets.QPushButton("Delete all predictions")
        self.prelabel_check = QtWidgets.QCheckBox("Use predictions to prelabel tasks")
        self.message = QtWidgets.QLabel(wordWrap=True)

        form = QtWidgets.QFormLayout(self)
        row = QtWidgets.QHBoxLayout()
        for widget in (self.chunk_spin, self.concurrency_spin, self.run_button, self.cancel_button):
            row.addWidget(widget)
        form.addRow("Pre-annotate", row)
        form.addRow("", self.progress_bar)
        form.addRow("", self.progress_label)
        failed_row = QtWidgets.QHBoxLayout()
        failed_row.addWidget(self.failures_list, 1)
        failed_row.addWidget(self.retry_button)
        form.addRow("Failed tasks", failed_row)
        train_row = QtWidgets.QHBoxLayout()
        for widget in (self.train_button, QtWidgets.QLabel("Auto-train"), self.auto_train_spin):
            train_row.addWidget(widget)
        form.addRow("Training", train_row)
        form.addRow("", self.training_label)
        versions_row = QtWidgets.QHBoxLayout()
        for widget in (self.versions_combo, self.show_button, self.delete_version_button):
            versions_row.addWidget(widget)
        form.addRow("Predictions", versions_row)
        more_row = QtWidgets.QHBoxLayout()
        more_row.addWidget(self.prelabel_check)
        more_row.addWidget(self.delete_all_button)
        form.addRow("", more_row)
        form.addRow("", self.message)

        self.run_button.clicked.connect(lambda: spawn(self.preannotate(), "pre-annotate"))
        self.retry_button.clicked.connect(lambda: spawn(self.preannotate(retry=True), "retry"))
        self.cancel_button.clicked.connect(self.cancel)
        self.train_button.clicked.connect(lambda: spawn(self.train_now(), "train"))
        self.auto_train_spin.editingFinished.connect(lambda: spawn(self.set_auto_train()))
        self.show_button.clicked.connect(lambda: spawn(self.show_version(), "show version"))
        self.delete_version_button.clicked.connect(lambda: spawn(self.delete(one=True), "delete"))
        self.delete_all_button.clicked.connect(lambda: spawn(self.delete(one=False), "delete"))
        self.prelabel_check.clicked.connect(lambda on: spawn(self.set_prelabel(on)))
        self.training_timer = QtCore.QTimer(self, interval=2000)
        self.training_timer.timeout.connect(
            lambda: spawn(self.refresh_training(), "training state")
        )
        self.detach()

    def attach(
        self,
        studio: Studio | None,
        project_id: int,
        backend: ConnectedBackend,
        backend_url: str,
        auth: tuple[str, str] | None,
    ) -> None:
        """``backend_url``: the model server as this machine reaches it (not Label Studio)."""
        self.studio, self.project_id, self.backend = studio, project_id, backend
        self.backend_url, self.auth = backend_url, auth
        self.setEnabled(studio is not None)
        self.training_timer.start()
        spawn(self.refresh(), "project state")

    def detach(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.backend = None
        self.training_timer.stop()
        self.setEnabled(False)

    async def call(self, coro):
        try:
            return await coro
        except StudioError as exc:
            self.message.setText(str(exc))
            return None

    async def refresh(self) -> None:
        if self.studio is None or self.project_id is None:
            return
        project = await self.call(get_project(self.studio, self.project_id))
        counts = await self.call(predictions.counts(self.studio, self.project_id)) or {}
        if project is None:
            return
        self.auto_train_spin.setValue(project.auto_train_every)
        self.prelabel_check.setChecked(project.show_predictions)
        self.versions_combo.clear()
        for version, count in counts.items():
            shown = " (shown)" if version == project.model_version else ""
            self.versions_combo.addItem(f"{version}: {count}{shown}", version)

    async def preannotate(self, retry: bool = False) -> None:
        if self.studio is None or self.backend is None or self.project_id is None:
            return
        if not retry or self.job is None:
            options = JobOptions(
                chunk_size=self.chunk_spin.value(), concurrency=self.concurrency_spin.value()
            )
            self.job = PreannotateJob(
                self.studio,
                self.project_id,
                self.backend_url,
                options=options,
                basic_auth=self.auth,
                on_progress=self.on_progress,
            )
        self.run_button.setEnabled(False)
        self.retry_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        try:
            result = await self.call(self.job.retry_failed() if retry else self.job.run())
        finally:
            self.run_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
        if result is None:
            return
        self.failures_list.clear()
        for failure in result.failures:
            self.failures_list.addItem(f"task {failure.task_id}: {failure.reason}")
        self.retry_button.setEnabled(bool(result.failures))
        verb = "Cancelled" if result.cancelled else "Done"
        self.message.setText(
            f"{verb}: {result.stored} predictions stored at {result.rate:.0f} tasks/s."
        )
        await self.refresh()

    def on_progress(self, progress: Progress) -> None:
        self.progress_bar.setMaximum(max(progress.total or 0, 1))
        self.progress_bar.setValue(progress.done + progress.failed)
        self.progress_label.setText(progress_text(progress))

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    async def train_now(self) -> None:
        if self.studio is not None and self.backend is not None:
            await self.call(training.train_now(self.studio, self.backend.id))
            await self.refresh_training()

    async def set_auto_train(self) -> None:
        if self.studio is not None and self.project_id is not None:
            await self.call(
                training.set_auto_train(self.studio, self.project_id, self.auto_train_spin.value())
            )

    async def refresh_training(self) -> None:
        if self.backend is None:
            return
        try:
            jobs = await training.backend_jobs(self.backend_url, self.project_id, self.auth)
        except StudioError as exc:
            self.training_label.setText(str(exc))
            return
        self.training_label.setText(training.summary(jobs[0]) if jobs else "No training yet.")

    async def show_version(self) -> None:
        version = self.versions_combo.currentData()
        if self.studio is not None and version:
            await self.call(predictions.show_version(self.studio, self.project_id, version))
            await self.refresh()

    async def delete(self, one: bool) -> None:
        if self.studio is None or self.project_id is None:
            return
        version = self.versions_combo.currentData()
        if one and not version:
            return
        what = f"every prediction of version {version}" if one else "every prediction"
        if not self.confirm_delete(self, f"{what} in this project"):
            return
        if one:
            await self.call(predictions.delete_version(self.studio, self.project_id, version))
        else:
            await self.call(predictions.delete_all(self.studio, self.project_id))
        await self.refresh()

    async def set_prelabel(self, enabled: bool) -> None:
        if self.studio is not None and self.project_id is not None:
            await self.call(predictions.set_prelabel(self.studio, self.project_id, enabled))
