"""The job list: one row per training run, newest first, the selection kept across polls."""

from __future__ import annotations

from datetime import datetime

from PySide6 import QtCore, QtGui, QtWidgets

from app.services.training_client import Job

COLUMNS = ("State", "Started", "Duration", "Version", "Final metrics", "Reason")
STATE_COLOURS = {
    "running": "#8250df",
    "queued": "#7d4e00",
    "done": "#116329",
    "failed": "#a40e26",
    "cancelled": "#59636e",
    "skipped": "#59636e",
}
SHOWN_METRICS = ("accuracy", "macro_f1", "train_loss", "eval_loss")


class JobsTable(QtWidgets.QTableWidget):
    selected = QtCore.Signal(str)  # a job id the user picked

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent, objectName="jobsTable")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeToContents)
        self.job_ids: list[str] = []
        self.itemSelectionChanged.connect(self._picked)

    def show_jobs(self, jobs: list[Job], current: str | None) -> None:
        with QtCore.QSignalBlocker(self):
            self.setRowCount(len(jobs))
            self.job_ids = [job.id for job in jobs]
            for row, job in enumerate(jobs):
                for column, text in enumerate(_cells(job)):
                    item = self.item(row, column) or QtWidgets.QTableWidgetItem()
                    item.setText(text)
                    self.setItem(row, column, item)
                self.item(row, 0).setForeground(QtGui.QColor(STATE_COLOURS.get(job.state, "#000")))
                self.item(row, 0).setToolTip(job.error or "")
            if current in self.job_ids:
                self.selectRow(self.job_ids.index(current))

    def cell_text(self, row: int, column: str) -> str:
        return self.item(row, COLUMNS.index(column)).text()

    def _picked(self) -> None:
        rows = {index.row() for index in self.selectedIndexes()}
        if rows:
            self.selected.emit(self.job_ids[min(rows)])


def _cells(job: Job) -> tuple[str, ...]:
    state = job.state
    if job.state == "running" and job.cancelling:
        state = "cancelling"
    elif job.state == "running" and job.total:
        state = f"running {job.step}/{job.total}"
    return (
        state,
        _clock(job.started_at or job.created_at),
        _seconds(job.duration()),
        job.version or "",
        _summary(job.final_metrics()) if job.state != "failed" else (job.error or ""),
        job.reason,
    )


def _clock(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}" if minutes else f"{seconds:.1f} s"


def _summary(metrics: dict[str, float]) -> str:
    shown = [name for name in SHOWN_METRICS if name in metrics] or sorted(metrics)[:4]
    return "  ".join(f"{name} {metrics[name]:.3g}" for name in shown)
