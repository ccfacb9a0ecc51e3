"""The sklearn text classifier learns a project's Choices from annotations and predicts them.

Training reads labeled tasks through the model's ``labeled_tasks`` seam, pointed here at a
list shaped like Label Studio's task API answer; the real pull from Label Studio is exercised
in tests/e2e/test_serve_e2e.py.
"""

from __future__ import annotations

import socket
from itertools import count
from pathlib import Path

import httpx
import pytest

from backends.sdk import annotations, label_config
from backends.sdk.catalog import get_manifest
from backends.sdk.model import NotEnoughData, Project
from backends.sdk.server import create_app
from backends.sklearn_text_classifier.model import SklearnTextClassifier
from tests.support.sentiment import NEGATIVE, POSITIVE

MANIFEST = get_manifest("sklearn_text_classifier")
SENTIMENT = MANIFEST.default_label_config.replace('value="$text"', 'value="$review"')
IDS = count(1)


class Recorder:
    """A TrainingReport that keeps what fit told it."""

    def __init__(self):
        self.metrics: list[tuple[str, float, int]] = []
        self.progress_calls: list[tuple[int, int]] = []
        self.cancelled = False

    def progress(self, step: int, total: int) -> None:
        self.progress_calls.append((step, total))

    def metric(self, name: str, value: float, step: int) -> None:
        self.metrics.append((name, value, step))


def annotation(choice: str, *, updated_at: str = "2026-01-01T00:00:00Z", cancelled=False):
    return {
        "id": next(IDS),
        "was_cancelled": cancelled,
        "updated_at": updated_at,
        "result": [
            {
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [choice]},
            }
        ],
    }


def labeled(text: str, *annotations: dict) -> dict:
    return {"id": next(IDS), "data": {"review": text}, "annotations": list(annotations)}


def sentiment_tasks() -> list[dict]:
    return [labeled(t, annotation("Positive")) for t in POSITIVE] + [
        labeled(t, annotation("Negative")) for t in NEGATIVE
    ]


def classifier(tmp_path: Path, tasks: list[dict] | None = None, **params) -> SklearnTextClassifier:
    model = SklearnTextClassifier(MANIFEST, MANIFEST.validate_params(params), tmp_path / "models")
    model.setup()
    model.labeled_tasks = lambda project, params: list(tasks or [])
    return model


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(id="3", directory=tmp_path, label_config=label_config.parse(SENTIMENT))


def train(model: SklearnTextClassifier, project: Project, tmp_path: Path, report=None):
    workdir = tmp_path / "version"
    workdir.mkdir(exist_ok=True)
    metrics = model.fit(project, workdir, report or Recorder())
    return workdir, metrics


def test_predicts_nothing_before_any_training(tmp_path, project):
    tasks = [{"id": 1, "data": {"review": "great film"}}, {"id": 2, "data": {"review": "awful"}}]

    assert classifier(tmp_path).predict(tasks, project, None) == [None, None]


def test_training_reports_a_learning_curve_and_the_saved_version_predicts(tmp_path, project):
    report = Recorder()
    workdir, metrics = train(classifier(tmp_path, sentiment_tasks()), project, tmp_path, report)

    names = {name for name, _, _ in report.metrics}
    assert {"accuracy", "macro_f1", "train_loss"} <= names
    accuracy_steps = [step for name, _, step in report.metrics if name == "accuracy"]
    assert accuracy_steps == sorted(accuracy_steps) and len(accuracy_steps) >= 3
    assert report.progress_calls[-1][0] == report.progress_calls[-1][1]
    assert metrics["accuracy"] >= 0.8 and metrics["examples"] == 24
    assert 0 < metrics["train_loss"] < 0.7

    # A fresh process loads the saved version and answers in Label Studio's shape.
    restarted = classifier(tmp_path)
    restarted.load_version(project, workdir)
    unseen = [
        {"id": 10, "data": {"review": "a wonderful, great film"}},
        {"id": 11, "data": {"review": "terrible and boring"}},
        {"id": 12, "data": {"text": "no review field here"}},
    ]
    happy, sad, missing = restarted.predict(unseen, project, None)

    assert happy["result"] == [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["Positive"]},
            "score": happy["score"],
        }
    ]
    assert sad["result"][0]["value"] == {"choices": ["Negative"]}
    assert 0.5 < happy["score"] <= 1.0 and 0.5 < sad["score"] <= 1.0
    assert missing is None


def test_latest_kept_annotation_wins(tmp_path, project):
    tasks = [
        labeled(
            "sunny cheerful day",
            annotation("Negative", updated_at="2026-01-01T00:00:00Z"),
            annotation("Positive", updated_at="2026-02-01T00:00:00Z"),
            annotation("Negative", updated_at="2026-03-01T00:00:00Z", cancelled=True),
        ),
        labeled("rainy gloomy night", annotation("Negative")),
        labeled("sunny cheerful party", annotation("Negative", cancelled=True)),
    ]
    model = classifier(tmp_path, tasks)
    workdir, metrics = train(model, project, tmp_path)
    model.load_version(project, workdir)

    prediction = model.predict([{"data": {"review": "sunny cheerful"}}], project, None)[0]

    assert metrics["examples"] == 2
    assert prediction["result"][0]["value"] == {"choices": ["Positive"]}


def test_one_class_is_not_enough_to_train(tmp_path, project):
    tasks = [labeled(t, annotation("Positive")) for t in POSITIVE[:5]]

    with pytest.raises(NotEnoughData, match="at least 2 classes"):
        train(classifier(tmp_path, tasks), project, tmp_path)


def test_regularisation_parameter_reaches_the_classifier(tmp_path, project):
    """A tiny C flattens the probabilities: the parameter is really used."""
    scores = {}
    for c_value in ("0.001", "100"):
        model = classifier(tmp_path, sentiment_tasks(), LOGISTIC_REGRESSION_C=c_value)
        workdir, _ = train(model, project, tmp_path)
        model.load_version(project, workdir)
        scores[c_value] = model.predict([{"data": {"review": "great film"}}], project, None)[0]

    assert scores["0.001"]["score"] < 0.55 < scores["100"]["score"]


def test_annotations_come_from_the_announced_label_studio_then_the_configured_one(tmp_path):
    announced = Project(
        id="3.1712586036",
        directory=tmp_path,
        hostname="http://localhost:8080/",
        access_token="legacy",
    )
    params = {"LABEL_STUDIO_URL": "http://host.docker.internal:8080", "LABEL_STUDIO_API_KEY": "pat"}

    assert annotations.credentials(announced, params) == [
        ("http://localhost:8080", "legacy"),
        ("http://localhost:8080", "pat"),
        ("http://host.docker.internal:8080", "pat"),
    ]
    assert annotations.label_studio_project_id(announced) == 3


def test_training_without_any_label_studio_says_what_to_set(tmp_path, project, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    model = SklearnTextClassifier(MANIFEST, MANIFEST.validate_params({}), tmp_path)

    with pytest.raises(annotations.LabelStudioUnreachable, match="LABEL_STUDIO_URL"):
        train(model, project, tmp_path)


def test_an_unreachable_label_studio_is_named_in_the_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed
    gone = Project(id="3", directory=tmp_path, hostname=url, access_token="token")

    with pytest.raises(annotations.LabelStudioUnreachable, match=f"{url} is unreachable"):
        annotations.fetch_labeled_tasks(gone, {})


@pytest.mark.anyio
async def test_served_classifier_predicts_nothing_then_trains_on_start_training_and_bumps_version(
    tmp_path, poll, ls_sample
):
    """The Label Studio sequence over the real server: setup, predict, Start Training, predict."""
    app = create_app(MANIFEST, MANIFEST.validate_params({}), tmp_path / "models")
    setup_body = {**ls_sample("post_setup"), "project": "3.1712586036", "schema": SENTIMENT}
    predict_body = {
        "tasks": [
            {"id": 1, "data": {"review": "wonderful, great fun"}},
            {"id": 2, "data": {"review": "boring and awful"}},
        ],
        "project": "3.1712586036",
        "label_config": SENTIMENT,
        "params": {"login": None, "password": None, "context": None},
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        await poll(client, lambda r: r.status_code == 200)
        app.state.server.model.labeled_tasks = lambda project, params: sentiment_tasks()

        first = (await client.post("/setup", json=setup_body)).json()["model_version"]
        untrained = (await client.post("/predict", json=predict_body)).json()["results"]
        start = ls_sample("post_webhook_start_training")
        start["project"] = {**start["project"], "id": 3, "label_config": SENTIMENT}
        queued = await client.post("/webhook", json=start)
        job = await poll(
            client,
            lambda r: r.json()["state"] in ("done", "failed", "skipped"),
            path=f"/jobs/{queued.json()['job_id']}",
        )
        second = (await client.post("/setup", json=setup_body)).json()["model_version"]
        trained = (await client.post("/predict", json=predict_body)).json()["results"]

    assert [r["result"] for r in untrained] == [[], []]
    assert queued.status_code == 201
    assert job.json()["state"] == "done", job.json()["error"]
    assert {h["name"] for h in job.json()["history"]} >= {"accuracy", "macro_f1", "train_loss"}
    assert second == job.json()["version"] != first
    assert [r["result"][0]["value"]["choices"] for r in trained] == [["Positive"], ["Negative"]]
    assert {r["model_version"] for r in trained} == {second}
