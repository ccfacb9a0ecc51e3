"""``/predict``: one answer per task in order, failures isolated, and a server that stays awake."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

pytestmark = pytest.mark.anyio


def tasks_with_texts(body: dict, texts: list[str]) -> dict:
    tasks = [{**body["tasks"][0], "id": i + 1, "data": {"text": t}} for i, t in enumerate(texts)]
    return {**body, "tasks": tasks}


async def test_label_studio_batch_gets_one_result_per_task_in_order(serve, ls_sample):
    body = ls_sample("post_predict")
    async with serve("Echo") as client:
        await client.post("/setup", json=ls_sample("post_setup"))
        response = await client.post("/predict", json=body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["echo"]["id"] for r in results] == [t["id"] for t in body["tasks"]]
    assert [r["echo"]["data"] for r in results] == [t["data"] for t in body["tasks"]]
    for result in results:
        assert result["model_version"] == "Echo-v0"
        assert result["result"][0]["value"] == {"choices": ["pos"]}
        assert (result["result"][0]["from_name"], result["result"][0]["to_name"]) == (
            "label",
            "text",
        )


async def test_interactive_context_reaches_the_model(serve, ls_sample):
    context = {"result": [{"type": "choices", "value": {"choices": ["neg"]}}], "user_id": 7}
    body = ls_sample("post_predict")
    body = {**body, "tasks": body["tasks"][:1], "params": {**body["params"], "context": context}}
    async with serve("Echo") as client:
        response = await client.post("/predict", json=body)
    assert response.json()["results"][0]["context"] == context


async def test_predict_without_setup_uses_the_request_config(serve, ls_sample):
    body = ls_sample("post_predict")
    async with serve("Echo") as client:
        served = await client.post("/predict", json=body)
        no_config = await client.post(
            "/predict", json={**body, "project": "2.1", "label_config": None}
        )
        unservable = await client.post(
            "/predict",
            json={**body, "label_config": body["label_config"].replace("Choice", "Label")},
        )
    assert served.status_code == 200
    assert no_config.status_code == 422
    assert no_config.json()["field"] == "label_config"
    assert unservable.status_code == 422
    assert "needs a <Choices>" in unservable.json()["error"]


async def test_a_failing_task_comes_back_empty_and_the_others_are_kept(serve, ls_sample, caplog):
    caplog.set_level(logging.INFO)
    body = tasks_with_texts(ls_sample("post_predict"), ["pos", "boom", "neg"])
    async with serve("FailsOnBoom") as client:
        response = await client.post("/predict", json=body)
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200
    first, failed, last = response.json()["results"]
    assert first["result"][0]["value"] == {"choices": ["pos"]}
    assert last["result"][0]["value"] == {"choices": ["neg"]}
    error_id = failed.pop("error").removeprefix("prediction failed (error_id=").rstrip(")")
    assert failed == {"result": [], "score": 0, "model_version": "FailsOnBoom-v0"}
    assert "ml_launcher_prediction_errors_total 1" in metrics
    assert f"prediction failed for task 2 (error_id={error_id})" in caplog.text
    assert "ValueError: cannot read this text" in caplog.text


async def test_a_single_failing_task_is_answered_not_crashed(serve, ls_sample):
    body = tasks_with_texts(ls_sample("post_predict"), ["boom"])
    async with serve("FailsOnBoom") as client:
        response = await client.post("/predict", json=body)
    assert response.status_code == 200
    [answer] = response.json()["results"]
    assert answer["result"] == [] and answer["model_version"] == "FailsOnBoom-v0"
    assert answer["error"].startswith("prediction failed (error_id=")


async def test_health_stays_fast_while_a_slow_predict_runs(serve, ls_sample):
    async with serve("Slow", params={"DELAY": 1.0}) as client:
        predicting = asyncio.create_task(client.post("/predict", json=ls_sample("post_predict")))
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        health = await client.get("/health")
        health_seconds = time.perf_counter() - started
        assert not predicting.done()
        response = await predicting
    assert health.status_code == 200
    assert health_seconds < 0.1
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5


async def test_a_full_queue_answers_503_with_retry_after(serve, ls_sample):
    body = ls_sample("post_predict")
    async with serve("Slow", params={"DELAY": 0.5}, queue_limit=1) as client:
        running = asyncio.create_task(client.post("/predict", json=body))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(client.post("/predict", json=body))
        await asyncio.sleep(0.05)
        depth = (await client.get("/metrics")).text
        refused = await client.post("/predict", json=body)
        answered = await asyncio.gather(running, waiting)
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert "queue is full" in refused.json()["error"]
    assert "ml_launcher_inference_queue_depth 1" in depth
    assert [r.status_code for r in answered] == [200, 200]
