"""Live metric curves: the chosen run drawn bold, the project's earlier runs faint behind it.

Curves are updated in place (``setData``) when a poll brings new points, so a long run does not
rebuild the plot every second.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6 import QtCore, QtWidgets

from app.services.training_client import Job

CURRENT_PEN = pg.mkPen("#8250df", width=2.5)
EARLIER_COLOURS = ("#0969da", "#1a7f37", "#bf8700", "#cf222e", "#57606a")
EARLIER_RUNS = 5  # more than this turns the overlay into noise


class MetricCurves(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.metric_box = QtWidgets.QComboBox(objectName="metricBox")
        self.metric_box.setSizeAdjustPolicy(QtWidgets.QComboBox.AdjustToContents)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("metricPlot")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "step")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.curves: dict[str, pg.PlotDataItem] = {}  # job id -> its curve for the shown metric
        self._jobs: list[Job] = []
        self._current: str | None = None

        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Metric"))
        top.addWidget(self.metric_box)
        top.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        self.metric_box.currentTextChanged.connect(self._redraw)

    @property
    def metric(self) -> str:
        return self.metric_box.currentText()

    def show_jobs(self, jobs: list[Job], current: str | None) -> None:
        """``jobs`` newest first; ``current`` is drawn bold, up to five earlier runs faint."""
        self._jobs, self._current = jobs, current
        names = list(dict.fromkeys(name for job in jobs for name in job.metric_names()))
        if names != [self.metric_box.itemText(i) for i in range(self.metric_box.count())]:
            keep = self.metric
            with QtCore.QSignalBlocker(self.metric_box):
                self.metric_box.clear()
                self.metric_box.addItems(names)
                self.metric_box.setCurrentIndex(max(0, names.index(keep) if keep in names else 0))
        self._redraw()

    def points(self, job_id: str) -> tuple[list[float], list[float]]:
        """What the curve of ``job_id`` shows now (x = steps, y = values)."""
        curve = self.curves.get(job_id)
        if curve is None or curve.xData is None:
            return [], []
        return list(curve.xData), list(curve.yData)

    def export_png(self, path: Path) -> None:
        exporter = ImageExporter(self.plot.getPlotItem())
        exporter.parameters()["width"] = max(800, self.plot.width())
        if not exporter.export(str(path)) and not Path(path).exists():
            raise OSError(f"could not write {path}")

    def _redraw(self) -> None:
        shown = self._shown_jobs()
        for job_id in set(self.curves) - {job.id for job in shown}:
            curve = self.curves.pop(job_id)
            self.legend.removeItem(curve)
            self.plot.removeItem(curve)
        for index, job in enumerate(shown):
            steps, values = job.series(self.metric)
            curve = self.curves.get(job.id)
            if curve is None:
                curve = self.curves[job.id] = self.plot.plot(name=_label(job))
            elif curve.name() != _label(job):  # the run finished and got its version
                self.legend.removeItem(curve)
                curve.opts["name"] = _label(job)
                self.legend.addItem(curve, _label(job))
            curve.setData(steps, values, symbol="o" if len(steps) == 1 else None)
            curve.setPen(CURRENT_PEN if job.id == self._current else _faint(index))
            curve.setZValue(10 if job.id == self._current else 0)
        self.plot.setLabel("left", self.metric)

    def _shown_jobs(self) -> list[Job]:
        if not self.metric:
            return []
        current = [j for j in self._jobs if j.id == self._current]
        project = current[0].project if current else None
        earlier = [
            j
            for j in self._jobs
            if j.id != self._current
            and project in (None, j.project)
            and self.metric in j.metric_names()
        ]
        return current + earlier[:EARLIER_RUNS]


def _faint(index: int):
    colour = pg.mkColor(EARLIER_COLOURS[index % len(EARLIER_COLOURS)])
    colour.setAlpha(110)
    return pg.mkPen(colour, width=1.2)


def _label(job: Job) -> str:
    return f"job {job.id}" if not job.version else f"{job.version} (job {job.id})"
