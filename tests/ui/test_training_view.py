"""The Training view against a real model server process: live curves, cancel, earlier runs
overlaid, CSV/PNG export, and rollback from the versions list."""

from __future__ import annotations

import csv

import httpx
import pytest
from PySide6 import QtCore

from app.services.training_client import TrainingClient
from app.ui.training import TrainingView
from tests.unit.test_training_jobs import SENTIMENT, steps_process

pytestmark = pytest.mark.ui

SETUP = {"project": "4.1", "schema": SENTIMENT}


@pytest.fixture
def make_view(qtbot, qloop):
    def make(url: str) -> TrainingView:
        view = TrainingView(TrainingClient(url), interval=0.1)
        qtbot.addWidget(view)
        view.resize(1100, 700)
        view.show()
        qtbot.waitExposed(view)
        return view

    return make


def row_states(view: TrainingView) -> list[str]:
    table = view.jobs_table
    return [table.cell_text(row, "State") for row in range(table.rowCount())]


def watch_then_cancel(qtbot, view: TrainingView) -> str:
    """Train now, see the curve grow between polls, press Cancel, see the job end."""
    before = len(view.jobs)
    qtbot.mouseClick(view.train_button, QtCore.Qt.LeftButton)
    qtbot.waitUntil(lambda: len(view.jobs) == before + 1, timeout=5000)
    job_id = view.selected
    qtbot.waitUntil(lambda: len(view.curves.points(job_id)[0]) >= 5, timeout=5000)
    live = len(view.curves.points(job_id)[0])
    qtbot.waitUntil(lambda: len(view.curves.points(job_id)[0]) > live, timeout=5000)
    assert view.cancel_button.isEnabled()
    assert view.progress.value() > 0
    view.cancel_button.click()
    qtbot.waitUntil(lambda: row_states(view)[0] == "cancelled", timeout=5000)
    return job_id


def test_curves_grow_live_and_earlier_runs_stay_behind_the_current_one(qtbot, make_view, tmp_path):
    with steps_process(tmp_path, tmp_path / "models", steps=0) as (url, _):
        httpx.post(f"{url}/setup", json=SETUP)
        view = make_view(url)
        first = watch_then_cancel(qtbot, view)
        second = watch_then_cancel(qtbot, view)
        steps, values = view.curves.points(second)
        csv_path, png_path = tmp_path / "run.csv", tmp_path / "run.png"
        view.export_csv(csv_path)
        view.export_png(png_path)

    assert view.curves.metric == "loss"
    assert set(view.curves.curves) == {first, second}  # the earlier run is overlaid
    pens = {job_id: curve.opts["pen"].widthF() for job_id, curve in view.curves.curves.items()}
    assert pens[second] > pens[first]  # the current run bold, the earlier one faint
    assert steps[:3] == [1, 2, 3]
    assert values[:3] == pytest.approx([1.0, 0.5, 1 / 3])
    assert row_states(view) == ["cancelled", "cancelled"]
    assert not view.cancel_button.isEnabled()
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["job", "version", "metric", "step", "value"]
    assert len(rows) - 1 >= len(steps)
    assert rows[1] == [second, "", "loss", "1", "1.0"]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_now_makes_versions_and_activate_rolls_back(qtbot, make_view, tmp_path):
    with steps_process(tmp_path, tmp_path / "models", steps=2) as (url, _):
        httpx.post(f"{url}/setup", json=SETUP)
        view = make_view(url)
        for version in ("Steps-v1", "Steps-v2"):
            view.train_button.click()
            qtbot.waitUntil(lambda v=version: view.versions.active() == v, timeout=5000)
        assert [v.name for v in view.versions.versions] == ["Steps-v2", "Steps-v1"]
        assert not view.versions.activate_button.isEnabled()  # nothing chosen yet
        view.versions.choose("Steps-v1")
        assert view.versions.activate_button.isEnabled()
        view.versions.activate_button.click()
        qtbot.waitUntil(lambda: view.versions.active() == "Steps-v1", timeout=5000)
        health = httpx.get(f"{url}/health").json()
    assert health["model_version"] == "Steps-v1"
    assert row_states(view) == ["done", "done"]
    assert view.jobs_table.cell_text(0, "Version") == "Steps-v2"
    assert view.jobs_table.cell_text(0, "Final metrics") == "steps 2"
    assert view.status_label.text().startswith(f"Job {view.selected}: done")
    assert view.project_box.currentText() == "4"


def test_a_server_that_refuses_says_why(qtbot, make_view, tmp_path):
    with steps_process(tmp_path, tmp_path / "models", steps=2) as (url, _):
        view = make_view(url)
        view.train_button.click()
        qtbot.waitUntil(lambda: view.problem_label.text() != "", timeout=5000)
    assert view.problem_label.text() == "project: required (known projects: none yet)"
    assert view.jobs == []
