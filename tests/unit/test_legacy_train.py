"""Label Studio with its webhook flag off sends every annotated task in ``POST /train``.

The classifier then learns from exactly those tasks: no call back into Label Studio (none runs
in this test, and no address or token is configured), and a later START_TRAINING goes back to
pulling fresh annotations.
"""

from __future__ import annotations

import httpx
import pytest

from backends.sdk.server import create_app
from tests.unit.test_sklearn_model import MANIFEST, SENTIMENT, sentiment_tasks

pytestmark = pytest.mark.anyio


async def test_legacy_train_learns_from_the_tasks_in_its_body(tmp_path, poll, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    app = create_app(MANIFEST, MANIFEST.validate_params({}), tmp_path / "models")
    train_body = {
        "project": "5.1712586036",
        "label_config": SENTIMENT,
        "annotations": sentiment_tasks(),
    }
    predict_body = {
        "tasks": [{"id": 1, "data": {"review": "wonderful, great fun"}}],
        "project": "5.1712586036",
        "label_config": SENTIMENT,
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        await poll(client, lambda r: r.status_code == 200)
        queued = await client.post("/train", json=train_body)
        job = await poll(
            client,
            lambda r: r.json()["state"] in ("done", "failed", "skipped"),
            path=f"/jobs/{queued.json()['job_id']}",
        )
        predicted = (await client.post("/predict", json=predict_body)).json()["results"]
        refetch = await client.post(
            "/webhook",
            json={"action": "START_TRAINING", "project": {"id": 5, "label_config": SENTIMENT}},
        )
        second = await poll(
            client,
            lambda r: r.json()["state"] in ("done", "failed", "skipped"),
            path=f"/jobs/{refetch.json()['job_id']}",
        )

    assert queued.status_code == 201
    assert job.json()["state"] == "done", job.json()["error"]
    assert predicted[0]["result"][0]["value"]["choices"] == ["Positive"]
    assert predicted[0]["model_version"] == job.json()["version"]
    # the webhook carries no annotations: the model must ask Label Studio, which is not set
    assert second.json()["state"] == "failed"
    assert "LABEL_STUDIO_URL" in second.json()["error"]
