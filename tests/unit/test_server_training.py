"""Training from webhooks: fast answers, background jobs, coalescing, versions kept on disk."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.anyio


async def finished(client, poll, job_id: str) -> dict:
    response = await poll(
        client,
        lambda r: r.json()["state"] not in ("queued", "running"),
        path=f"/jobs/{job_id}",
    )
    return response.json()


async def predicted_label(client, ls_sample) -> str:
    body = ls_sample("post_predict")
    response = await client.post("/predict", json={**body, "tasks": body["tasks"][:1]})
    return response.json()["results"][0]["result"][0]["value"]["choices"][0]


async def test_webhook_answers_at_once_and_runs_coalesce_into_one_follow_up(serve, poll, ls_sample):
    gate = threading.Event()
    start = ls_sample("post_webhook_start_training")
    async with serve("Trainable", trains=True, params={"GATE": gate}) as client:
        started = time.perf_counter()
        first = await client.post("/webhook", json=start)
        first_seconds = time.perf_counter() - started
        job_id = first.json()["job_id"]
        await poll(client, lambda r: r.json()["state"] == "running", path=f"/jobs/{job_id}")
        started = time.perf_counter()
        second = await client.post("/webhook", json=start)
        second_seconds = time.perf_counter() - started
        third = await client.post("/webhook", json=start)
        assert (await client.post("/setup", json=ls_sample("post_setup"))).json() == {
            "model_version": "Trainable-v0"
        }
        gate.set()
        done_first = await finished(client, poll, job_id)
        done_second = await finished(client, poll, second.json()["job_id"])
        jobs = (await client.get("/jobs")).json()["jobs"]
        other_jobs = (await client.get("/jobs?project=2")).json()["jobs"]
        setup = await client.post("/setup", json=ls_sample("post_setup"))
        label = await predicted_label(client, ls_sample)
    assert first.status_code == 201
    assert first.json()["training"] == "queued"
    assert first_seconds < 0.1
    assert second_seconds < 0.1
    assert third.json()["job_id"] == second.json()["job_id"]
    assert third.json()["reason"] == "joined the job already waiting"
    assert [j["id"] for j in jobs] == [second.json()["job_id"], job_id]
    assert other_jobs == []
    assert (done_first["state"], done_first["version"]) == ("done", "Trainable-v1")
    assert (done_second["state"], done_second["version"]) == ("done", "Trainable-v2")
    assert done_first["history"] == [
        {"name": "loss", "value": 1.0, "step": 0},
        {"name": "loss", "value": 0.5, "step": 1},
        {"name": "loss", "value": pytest.approx(1 / 3), "step": 2},
    ]
    assert done_first["progress"] == {"step": 3, "total": 3}
    assert done_first["metrics"] == {"accuracy": 0.75}
    assert done_first["reason"] == "START_TRAINING"
    assert setup.json() == {"model_version": "Trainable-v2"}
    assert label == "run-2"


async def test_annotation_events_train_every_n_and_other_events_are_accepted(
    serve, poll, ls_sample
):
    created = ls_sample("post_webhook_annotation_created")
    others = [
        ls_sample("post_webhook_project_updated"),
        {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 1}], "project": {"id": 1}},
        {"action": "SOMETHING_NEWER", "project": {"id": 1}},
        {"action": "TASKS_CREATED", "tasks": [{"id": 9}]},
    ]
    params = {"START_TRAINING_EACH_N_UPDATES": 2}
    async with serve("Trainable", trains=True, params=params) as client:
        answers = [await client.post("/webhook", json=event) for event in others]
        first = await client.post("/webhook", json=created)
        second = await client.post("/webhook", json=created)
        done = await finished(client, poll, second.json()["job_id"])
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert all(a.json()["training"] == "not started" for a in answers)
    assert answers[3].json()["reason"] == "TASKS_CREATED names no project"
    assert first.json()["training"] == "not started"
    assert second.status_code == 201
    assert done["version"] == "Trainable-v1"


async def test_a_version_survives_a_restart_and_leftovers_are_cleaned(
    serve, poll, ls_sample, tmp_path
):
    async with serve("Trainable", trains=True) as client:
        job = await client.post("/webhook", json=ls_sample("post_webhook_start_training"))
        await finished(client, poll, job.json()["job_id"])
    leftover = tmp_path / "models" / "1" / "versions" / ".tmp-crashed"
    leftover.mkdir()
    async with serve("Trainable", trains=True) as client:
        health = await client.get("/health")
        setup = await client.post("/setup", json=ls_sample("post_setup"))
        label = await predicted_label(client, ls_sample)
        versions = (await client.get("/versions")).json()
        other_project = (await client.get("/versions?project=7")).json()
        bad_project = await client.get("/versions?project=../1")
        again = await client.post("/train", json=ls_sample("post_train_flag_off"))
        trained_again = await finished(client, poll, again.json()["job_id"])
    assert health.json()["model_version"] == "Trainable-v1"
    assert setup.json() == {"model_version": "Trainable-v1"}
    assert label == "run-1"
    assert not leftover.exists()
    assert versions["versions"] == ["Trainable-v1"]
    [info] = versions["projects"]["1"]
    assert (info["version"], info["active"], info["metrics"]) == (
        "Trainable-v1",
        True,
        {"accuracy": 0.75},
    )
    assert other_project == {"versions": ["Trainable-v0"], "projects": {"7": []}}
    assert bad_project.status_code == 422
    assert again.status_code == 201
    assert trained_again["version"] == "Trainable-v2"
    assert (tmp_path / "models" / "1" / "active").read_text() == "Trainable-v2"


async def test_nothing_to_learn_skips_without_a_version(serve, poll, ls_sample):
    async with serve("Trainable", trains=True, params={"NO_DATA": True}) as client:
        job = await client.post("/webhook", json=ls_sample("post_webhook_start_training"))
        done = await finished(client, poll, job.json()["job_id"])
        setup = await client.post("/setup", json=ls_sample("post_setup"))
        metrics = (await client.get("/metrics")).text
    assert (done["state"], done["version"], done["error"]) == (
        "skipped",
        None,
        "no annotations yet",
    )
    assert setup.json() == {"model_version": "Trainable-v0"}
    assert 'ml_launcher_training_jobs_total{state="skipped"} 1' in metrics


async def test_a_crashing_fit_fails_the_job_and_leaves_nothing_behind(
    serve, poll, ls_sample, tmp_path
):
    async with serve("Trainable", trains=True, params={"FAIL": True}) as client:
        job = await client.post("/webhook", json=ls_sample("post_webhook_start_training"))
        done = await finished(client, poll, job.json()["job_id"])
        health = await client.get("/health")
        missing = await client.get("/jobs/nope")
    assert done["state"] == "failed"
    assert done["error"] == "OSError: disk full"
    assert done["error_id"]
    assert health.json()["model_version"] == "Trainable-v0"
    assert list((tmp_path / "models" / "1" / "versions").iterdir()) == []
    assert missing.status_code == 404


async def test_a_model_that_does_not_train_says_so(serve, ls_sample):
    async with serve("Echo") as client:
        response = await client.post("/webhook", json=ls_sample("post_webhook_start_training"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "training": "not started",
        "reason": "fake_echo does not train",
    }
