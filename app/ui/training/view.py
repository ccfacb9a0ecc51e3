"""Training of one model server, watched live: jobs, progress, curves, versions, rollback.

It polls ``GET /jobs`` only while it is visible. The newest job is followed (selected, drawn
bold) until the user picks another row; picking the newest again resumes following.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.services.training_client import Job, JobPoller, TrainingClient, TrainingError, Version
from app.ui.async_bridge import spawn
from app.ui.training.curves import MetricCurves
from app.ui.training.jobs_table import JobsTable
from app.ui.training.versions_list import VersionsList


class TrainingView(QtWidgets.QWidget):
    def __init__(
        self,
        client: TrainingClient,
        *,
        interval: float = 1.0,
        parent: QtWidgets.QWidget | None = None,
    ):
        super().__init__(parent)
        self.client = client
        self.poller = JobPoller(client, interval=interval)
        self.jobs: list[Job] = []  # of the chosen project, newest first
        self.selected: str | None = None
        self.following = True
        self._versions: dict[str, list[Version]] = {}
        self._versioned: set[str] = set()  # jobs already known to have made a version

        self.project_box = QtWidgets.QComboBox(objectName="projectBox")
        self.train_button = QtWidgets.QPushButton("Train now", objectName="trainButton")
        self.cancel_button = QtWidgets.QPushButton("Cancel job", objectName="cancelButton")
        self.csv_button = QtWidgets.QPushButton("Export CSV…", objectName="csvButton")
        self.png_button = QtWidgets.QPushButton("Export PNG…", objectName="pngButton")
        self.progress = QtWidgets.QProgressBar(objectName="jobProgress")
        self.status_label = QtWidgets.QLabel("No training yet", objectName="jobStatus")
        self.problem_label = QtWidgets.QLabel(objectName="trainingProblem", wordWrap=True)
        self.jobs_table = JobsTable()
        self.curves = MetricCurves()
        self.versions = VersionsList()
        self._layout()

        self.poller.changed.connect(self._show_jobs)
        self.poller.failed.connect(self.problem_label.setText)
        self.project_box.currentIndexChanged.connect(lambda _: self._show_jobs(self.poller.jobs))
        self.jobs_table.selected.connect(self._pick)
        self.train_button.clicked.connect(lambda: spawn(self.train_now(), "Train now"))
        self.cancel_button.clicked.connect(lambda: spawn(self.cancel(), "Cancel job"))
        self.csv_button.clicked.connect(self._ask_csv)
        self.png_button.clicked.connect(self._ask_png)
        self.versions.activate_requested.connect(
            lambda name: spawn(self.activate(name), "Activate version")
        )
        self._refresh_controls()

    @property
    def project(self) -> str | None:
        return self.project_box.currentText() or None

    def selected_job(self) -> Job | None:
        return next((job for job in self.jobs if job.id == self.selected), None)

    def start(self) -> None:
        """Begin polling (on the running event loop); showing the view does it too."""
        self.poller.start()
        spawn(self.refresh_versions(), "Read versions")

    async def stop(self) -> None:
        await self.poller.stop()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.start()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        spawn(self.stop(), "Stop polling jobs")

    async def train_now(self) -> None:
        await self._guarded(self.client.start(self.project))
        self.following = True
        await self.poller.poll_once()

    async def cancel(self) -> None:
        if self.selected:
            await self._guarded(self.client.cancel(self.selected))
            await self.poller.poll_once()

    async def activate(self, name: str) -> None:
        await self._guarded(self.client.activate(name, self.project))
        await self.refresh_versions()

    async def refresh_versions(self) -> None:
        versions = await self._guarded(self.client.versions())
        if versions is not None:
            self._versions = versions
            self._add_projects(versions)
            self.versions.show_versions(versions.get(self.project or "", []))

    def export_csv(self, path: Path) -> None:
        job = self.selected_job()
        if job is not None:
            Path(path).write_text(job.to_csv(), encoding="utf-8")

    def export_png(self, path: Path) -> None:
        self.curves.export_png(Path(path))

    def _show_jobs(self, jobs: list[Job]) -> None:
        self._add_projects({job.project: [] for job in jobs})
        self.jobs = [job for job in jobs if self.project in (None, job.project)]
        ids = [job.id for job in self.jobs]
        if self.following or self.selected not in ids:
            self.selected = ids[0] if ids else None
        self.jobs_table.show_jobs(self.jobs, self.selected)
        self.curves.show_jobs(self.jobs, self.selected)
        self.versions.show_versions(self._versions.get(self.project or "", []))
        fresh = {job.id for job in jobs if job.version} - self._versioned
        if fresh:
            self._versioned |= fresh
            spawn(self.refresh_versions(), "Read versions")
        self._refresh_controls()

    def _pick(self, job_id: str) -> None:
        self.selected = job_id
        self.following = bool(self.jobs) and job_id == self.jobs[0].id
        self.curves.show_jobs(self.jobs, self.selected)
        self._refresh_controls()

    def _add_projects(self, projects) -> None:
        known = {self.project_box.itemText(i) for i in range(self.project_box.count())}
        for project in sorted(set(projects) - known):
            self.project_box.addItem(project)

    def _refresh_controls(self) -> None:
        job = self.selected_job()
        active = job is not None and not job.finished
        self.cancel_button.setEnabled(active and not job.cancelling)
        self.csv_button.setEnabled(job is not None and bool(job.history))
        self.png_button.setEnabled(job is not None and bool(job.history))
        if job is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            return
        if job.total:
            self.progress.setRange(0, job.total)
            self.progress.setValue(job.step or 0)
        else:
            self.progress.setRange(0, 0 if active else 1)
            self.progress.setValue(0 if active else 1)
        self.status_label.setText(_status(job))

    async def _guarded(self, call):
        """Run a server call; a refusal becomes the sentence under the buttons."""
        try:
            result = await call
        except TrainingError as exc:
            self.problem_label.setText(str(exc))
            return None
        self.problem_label.clear()
        return result

    def _ask_csv(self) -> None:
        name = f"training-{self.selected}.csv"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export metrics", name, "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def _ask_png(self) -> None:
        name = f"training-{self.selected}-{self.curves.metric}.png"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export plot", name, "PNG (*.png)")
        if path:
            self.export_png(Path(path))

    def _layout(self) -> None:
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(QtWidgets.QLabel("Project"))
        buttons.addWidget(self.project_box)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.png_button)
        status = QtWidgets.QHBoxLayout()
        status.addWidget(self.status_label, 1)
        status.addWidget(self.progress, 1)
        left = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        left.addWidget(_titled("Jobs", self.jobs_table))
        left.addWidget(_titled("Versions", self.versions))
        split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(_titled("Metrics", self.curves))
        split.setStretchFactor(1, 1)
        split.setSizes([460, 640])
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.problem_label)
        layout.addLayout(status)
        layout.addWidget(split, 1)


def _titled(title: str, widget: QtWidgets.QWidget) -> QtWidgets.QWidget:
    box = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(QtWidgets.QLabel(title, objectName="sectionTitle"))
    layout.addWidget(widget, 1)
    return box


def _status(job: Job) -> str:
    seconds = job.duration()
    took = f" · {seconds:.1f} s" if seconds is not None else ""
    if job.state == "running":
        where = f" step {job.step} of {job.total}" if job.total else ""
        return f"Job {job.id}: {'cancelling' if job.cancelling else 'running'}{where}{took}"
    if job.state == "done":
        return f"Job {job.id}: done{took}, version {job.version}"
    if job.state in ("failed", "skipped") and job.error:
        return f"Job {job.id}: {job.state}{took}: {job.error}"
    return f"Job {job.id}: {job.state}{took}"
