"""The job API: train now, cancel, rollback, and jobs that outlive the server process.

The model here (``Steps``) is real model code on the real server; its "training" just counts
steps and checks ``report.cancelled`` between them, as a long training loop does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.sdk.manifest import Manifest
from backends.sdk.model import Model, Project, TrainingReport
from backends.sdk.server import create_app
from tests.support.net import free_port, wait_for_http_ok
from tests.support.processes import log_tail, start_in_own_group, stop_group

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
# The server imports the model by this name, in this process and in a child started in REPO.
MODULE = "tests.unit.test_training_jobs"


class Steps(Model):
    """Trains ``STEPS`` steps (0: until cancelled); predicts which run made its version."""

    def __init__(self, manifest, params, model_dir):
        super().__init__(manifest, params, model_dir)
        self.learned: dict[str, str] = {}

    def predict(self, tasks, project, context):
        control, obj = project.label_config.first("Choices", ("Text",))
        label = self.learned.get(project.id, "untrained")
        region = {"from_name": control.name, "to_name": obj.name, "type": "choices"}
        return [{"result": [{**region, "value": {"choices": [label]}}], "score": 1.0}] * len(tasks)

    def fit(self, project: Project, workdir: Path, report: TrainingReport) -> dict[str, float]:
        steps = int(self.params.get("STEPS") or 0)
        gate: threading.Event | None = self.params.get("GATE")
        if gate is not None and not gate.wait(timeout=10):
            raise TimeoutError("the test never released the gate")
        step = 0
        while not report.cancelled and (steps == 0 or step < steps):
            step += 1
            report.metric("loss", 1.0 / step, step)
            report.progress(step, steps or step)
            time.sleep(0.01)
        runs = len(list(workdir.parent.glob("Steps-v*"))) + 1
        (workdir / "label.txt").write_text(f"run-{runs}", encoding="utf-8")
        return {"steps": float(step)}

    def load_version(self, project: Project, directory: Path) -> None:
        self.learned[project.id] = (directory / "label.txt").read_text(encoding="utf-8")


MANIFEST_TOML = f"""
name = "steps"
title = "Steps"
description = "counts training steps"
model_class = "{MODULE}:Steps"
capabilities = ["prediction", "training"]
data_types = ["text"]
[[requires]]
control = "Choices"
objects = ["Text"]
[[parameters]]
name = "STEPS"
type = "integer"
default = 0
"""


def steps_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "steps" / "manifest.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MANIFEST_TOML, encoding="utf-8")
    return path


@asynccontextmanager
async def steps_server(
    tmp_path: Path, poll, params: dict[str, Any] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    manifest = Manifest.load(steps_manifest(tmp_path))
    app = create_app(manifest, params or {}, tmp_path / "models")
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://model") as client,
    ):
        await poll(client, lambda r: r.status_code == 200)
        yield client


async def state_of(client, poll, job_id: str, *states: str) -> dict:
    response = await poll(client, lambda r: r.json()["state"] in states, path=f"/jobs/{job_id}")
    return response.json()


async def predicted(client, ls_sample) -> str:
    body = ls_sample("post_predict")
    response = await client.post("/predict", json={**body, "tasks": body["tasks"][:1]})
    return response.json()["results"][0]["result"][0]["value"]["choices"][0]


async def test_cancel_stops_a_running_job_and_leaves_no_version(tmp_path, poll, ls_sample):
    async with steps_server(tmp_path, poll) as client:
        await client.post("/setup", json=ls_sample("post_setup"))
        started = await client.post("/jobs?project=1")
        job_id = started.json()["job"]["id"]
        await poll(client, lambda r: len(r.json()["history"]) >= 3, path=f"/jobs/{job_id}")
        cancelling = await client.post(f"/jobs/{job_id}/cancel")
        cancelled = await state_of(client, poll, job_id, "cancelled", "done", "failed")
        again = await client.post(f"/jobs/{job_id}/cancel")
        versions = (await client.get("/versions?project=1")).json()
        health = (await client.get("/health")).json()
    assert started.status_code == 201
    assert started.json()["joined"] is False
    assert started.json()["job"]["reason"] == "MANUAL"
    assert cancelling.status_code == 200
    # either still winding down, or (on a fast turn of the training thread) already stopped
    answered = cancelling.json()
    assert answered["cancelling"] is True or answered["state"] == "cancelled"
    assert (cancelled["state"], cancelled["version"], cancelled["error"]) == (
        "cancelled",
        None,
        None,
    )
    assert cancelled["cancelling"] is False
    assert len(cancelled["history"]) >= 3
    assert again.status_code == 200  # cancelling twice is harmless
    assert versions["projects"]["1"] == []
    assert health["model_version"] == "Steps-v0"
    assert not list((tmp_path / "models" / "1" / "versions").iterdir())


async def test_a_cancelled_follow_up_is_replaced_by_a_fresh_one(tmp_path, poll, ls_sample):
    gate = threading.Event()
    async with steps_server(tmp_path, poll, {"STEPS": 2, "GATE": gate}) as client:
        await client.post("/setup", json=ls_sample("post_setup"))
        first = (await client.post("/jobs")).json()["job"]
        await state_of(client, poll, first["id"], "running")
        follow_up = (await client.post("/jobs")).json()["job"]
        joined = await client.post("/jobs")
        cancelled = await client.post(f"/jobs/{follow_up['id']}/cancel")
        fresh = await client.post("/jobs")
        gate.set()
        done_first = await state_of(client, poll, first["id"], "done")
        done_fresh = await state_of(client, poll, fresh.json()["job"]["id"], "done")
        metrics = (await client.get("/metrics")).text
    assert joined.status_code == 200
    assert joined.json()["joined"] is True
    assert joined.json()["job"]["id"] == follow_up["id"]
    assert cancelled.json()["state"] == "cancelled"
    assert fresh.status_code == 201
    assert fresh.json()["job"]["id"] not in (first["id"], follow_up["id"])
    assert (done_first["version"], done_fresh["version"]) == ("Steps-v1", "Steps-v2")
    assert 'ml_launcher_training_jobs_total{state="cancelled"} 1' in metrics
    assert 'ml_launcher_training_jobs_total{state="done"} 2' in metrics


async def test_bad_job_requests_are_refused_with_a_reason(tmp_path, poll, ls_sample):
    async with steps_server(tmp_path, poll, {"STEPS": 1}) as client:
        no_project = await client.post("/jobs")
        not_set_up = await client.post("/jobs?project=5")
        bad_id = await client.post("/jobs?project=../etc")
        unknown = await client.post("/jobs/nope/cancel")
        await client.post("/setup", json=ls_sample("post_setup"))
        done = await state_of(
            client, poll, (await client.post("/jobs?project=1")).json()["job"]["id"], "done"
        )
        finished = await client.post(f"/jobs/{done['id']}/cancel")
    assert no_project.status_code == 422
    assert no_project.json() == {
        "error": "project: required (known projects: none yet)",
        "field": "project",
    }
    assert not_set_up.status_code == 409
    assert "project 5 has no label config yet" in not_set_up.json()["error"]
    assert bad_id.status_code == 422
    assert bad_id.json()["field"] == "project"
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no training job 'nope'"}
    assert finished.status_code == 409
    assert finished.json()["error"] == f"training job {done['id']} is already done"


async def test_a_model_without_training_refuses_train_now(serve, ls_sample):
    async with serve("Echo") as client:
        await client.post("/setup", json=ls_sample("post_setup"))
        response = await client.post("/jobs?project=1")
    assert response.status_code == 409
    assert response.json() == {"error": "fake_echo does not train"}


async def test_an_earlier_version_can_be_activated_again(tmp_path, poll, ls_sample):
    async with steps_server(tmp_path, poll, {"STEPS": 3}) as client:
        await client.post("/setup", json=ls_sample("post_setup"))
        for _ in range(2):
            job = (await client.post("/jobs?project=1")).json()["job"]
            await state_of(client, poll, job["id"], "done")
        latest = await predicted(client, ls_sample)
        rollback = await client.post("/versions/Steps-v1/activate?project=1")
        setup = (await client.post("/setup", json=ls_sample("post_setup"))).json()
        health = (await client.get("/health")).json()
        rolled_back = await predicted(client, ls_sample)
        missing = await client.post("/versions/Steps-v9/activate?project=1")
        versions = (await client.get("/versions?project=1")).json()["projects"]["1"]
    async with steps_server(tmp_path, poll, {"STEPS": 3}) as client:
        after_restart = await predicted(client, ls_sample)
    assert (latest, rolled_back, after_restart) == ("run-2", "run-1", "run-1")
    assert rollback.status_code == 200
    assert rollback.json()["model_version"] == "Steps-v1"
    assert setup == {"model_version": "Steps-v1"}
    assert health["model_version"] == "Steps-v1"
    assert missing.status_code == 404
    assert missing.json()["error"] == (
        "project 1 has no version 'Steps-v9' (it has: Steps-v1, Steps-v2)"
    )
    assert [(v["version"], v["active"], v["metrics"]) for v in versions] == [
        ("Steps-v1", True, {"steps": 3.0}),
        ("Steps-v2", False, {"steps": 3.0}),
    ]


async def test_stopping_the_server_mid_job_fails_it_and_keeps_the_last_version(
    tmp_path, poll, ls_sample
):
    async with steps_server(tmp_path, poll, {"STEPS": 2}) as client:
        await client.post("/setup", json=ls_sample("post_setup"))
        first = (await client.post("/jobs")).json()["job"]
        await state_of(client, poll, first["id"], "done")
    async with steps_server(tmp_path, poll) as client:  # STEPS 0: runs until stopped
        await client.post("/setup", json=ls_sample("post_setup"))
        endless = (await client.post("/jobs")).json()["job"]
        await poll(client, lambda r: r.json()["history"], path=f"/jobs/{endless['id']}")
    async with steps_server(tmp_path, poll) as client:
        jobs = (await client.get("/jobs?project=1")).json()["jobs"]
        label = await predicted(client, ls_sample)
    assert [(j["id"], j["state"]) for j in jobs] == [
        (endless["id"], "failed"),
        (first["id"], "done"),
    ]
    assert jobs[0]["error"] == "server stopped during training"
    assert jobs[0]["history"]  # what it had reached is still there to look at
    assert jobs[1]["history"] == [
        {"name": "loss", "value": 1.0, "step": 1},
        {"name": "loss", "value": 0.5, "step": 2},
    ]
    assert label == "run-1"


def test_a_killed_server_comes_back_with_its_last_version_and_a_failed_job(tmp_path):
    """SIGKILL leaves the job record saying "running"; the next start must not believe it."""
    models = tmp_path / "models"
    setup = {"project": "4.1", "schema": SENTIMENT}
    task = {"tasks": [{"id": 1, "data": {"text": "fine"}}], "project": "4.1"}
    with steps_process(tmp_path, models, steps=2) as (url, _):
        httpx.post(f"{url}/setup", json=setup)
        first = httpx.post(f"{url}/jobs?project=4").json()["job"]
        _wait(lambda: httpx.get(f"{url}/jobs/{first['id']}").json()["state"] == "done")
    with steps_process(tmp_path, models, steps=0) as (url, process):
        httpx.post(f"{url}/setup", json=setup)
        endless = httpx.post(f"{url}/jobs?project=4").json()["job"]
        _wait(lambda: len(httpx.get(f"{url}/jobs/{endless['id']}").json()["history"]) > 5)
        time.sleep(1.2)  # past the record's save interval, so it holds some history
        killed_at = time.time()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    record = json.loads((models / "4" / "jobs" / f"{endless['id']}.json").read_text())
    with steps_process(tmp_path, models, steps=2) as (url, _):
        job = httpx.get(f"{url}/jobs/{endless['id']}").json()
        health = httpx.get(f"{url}/health").json()
        prediction = httpx.post(f"{url}/predict", json={**task, "label_config": SENTIMENT}).json()
    assert record["state"] == "running"
    assert (job["state"], job["error"]) == ("failed", "server stopped during training")
    assert job["history"]
    assert job["finished_at"] <= _iso(killed_at)
    assert health["model_version"] == "Steps-v1"
    assert prediction["results"][0]["result"][0]["value"]["choices"] == ["run-1"]
    assert prediction["results"][0]["model_version"] == "Steps-v1"
    assert not list((models / "4" / "versions").glob(".tmp-*"))


SENTIMENT = (
    '<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
    '<Choice value="pos"/><Choice value="neg"/></Choices></View>'
)
_SERVE = """
import sys
from pathlib import Path
from backends.sdk.manifest import Manifest
from backends.sdk.server import serve
manifest = Manifest.load(Path(sys.argv[1]))
params = manifest.validate_params({"STEPS": sys.argv[4]})
sys.exit(serve(manifest, params, host="127.0.0.1", port=int(sys.argv[2]),
    model_dir=Path(sys.argv[3]), log_level="info"))
"""


@contextmanager
def steps_process(
    tmp_path: Path, models: Path, *, steps: int
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The Steps model on the real server in a child process, as ``main.py serve`` runs it."""
    port = free_port()
    command = [sys.executable, "-c", _SERVE, str(steps_manifest(tmp_path)), str(port)]
    log_path = tmp_path / "server.log"
    process = start_in_own_group([*command, str(models), str(steps)], log_path=log_path, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http_ok(f"{url}/health", timeout=30, process=process)
        except Exception as exc:
            raise AssertionError(f"{exc}\n{log_tail(log_path)}") from exc
        yield url, process
    finally:
        stop_group(process)


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def _wait(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
