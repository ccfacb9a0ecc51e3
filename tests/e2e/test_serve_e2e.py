"""The first two example models, served by ``main.py serve`` and driven by a real Label Studio.

Everything goes through Label Studio's own API, the way its UI does it: connect the backend,
annotate, press Start Training, Retrieve Predictions, and the editor's interactive call.
Label Studio reports "Retrieved N predictions" even when it stored none, so every check counts
what Label Studio really stored.
"""

from __future__ import annotations

import time

import httpx
from label_studio_sdk import LabelStudio

from backends.sdk.catalog import get_manifest
from tests.support.sentiment import NEGATIVE, POSITIVE

SENTIMENT = get_manifest("sklearn_text_classifier").default_label_config
NER = get_manifest("interactive_substring_matching").default_label_config


def api(label_studio, token: str | None = None) -> httpx.Client:
    """Raw HTTP for what the SDK hides: the train answer, DM actions, interactive results."""
    token = token or label_studio.legacy_token
    return httpx.Client(
        base_url=label_studio.url, headers={"Authorization": f"Token {token}"}, timeout=120
    )


def choose(ls_client, task_id: int, label: str) -> None:
    ls_client.annotations.create(
        task_id,
        result=[
            {
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [label]},
            }
        ],
    )


def wait_for_new_version(ls_client, ml_id: int, old: str, timeout: float = 60.0) -> str:
    """Label Studio re-reads ``/setup`` on every GET of the backend; training bumps it there."""
    deadline = time.monotonic() + timeout
    while True:
        version = ls_client.ml.get(ml_id).model_version
        if version != old:
            return version
        if time.monotonic() > deadline:
            raise AssertionError(f"model_version stayed {old!r} for {timeout} s")
        time.sleep(0.3)


def retrieve_predictions(client: httpx.Client, project_id: int) -> httpx.Response:
    """The Data Manager's "Retrieve Predictions" on every task of the project."""
    return client.post(
        "/api/dm/actions",
        params={"id": "retrieve_tasks_predictions", "project": project_id},
        json={"selectedItems": {"all": True, "excluded": []}},
    )


def stored(ls_client, project_id: int) -> list:
    return list(ls_client.predictions.list(project=project_id))


def test_classifier_trains_on_start_training_then_predicts_every_task(
    label_studio, ls_client, make_project, serve_model
):
    project = make_project(SENTIMENT, [{"text": t} for t in POSITIVE[:10] + NEGATIVE[:10]])
    truth = dict(zip(project.task_ids, ["Positive"] * 10 + ["Negative"] * 10, strict=True))
    served = serve_model("sklearn_text_classifier", {"START_TRAINING_EACH_N_UPDATES": 0})
    ml = ls_client.ml.create(
        project=project.id, url=served.url, title="sklearn", is_interactive=False
    )
    client = api(label_studio)

    assert retrieve_predictions(client, project.id).status_code == 200
    untrained = stored(ls_client, project.id)
    assert not [p.result for p in untrained if p.result], "an untrained model must not guess"

    for task_id in project.task_ids[:5] + project.task_ids[10:15]:
        choose(ls_client, task_id, truth[task_id])
    assert client.post(f"/api/ml/{ml.id}/train", json={"use_ground_truth": False}).is_success
    version = wait_for_new_version(ls_client, ml.id, ml.model_version)
    answer = retrieve_predictions(client, project.id)

    assert answer.status_code == 200, answer.text
    fresh = [p for p in stored(ls_client, project.id) if p.model_version == version]
    assert sorted(p.task for p in fresh) == sorted(project.task_ids)
    labels = {p.task: p.result[0]["value"]["choices"][0] for p in fresh}
    right = sum(labels[task_id] == label for task_id, label in truth.items())
    assert right >= 18, f"only {right}/20 predictions match the obvious sentiment: {labels}"
    assert all(0.5 < p.score <= 1 and p.result[0]["from_name"] == "sentiment" for p in fresh)
    job = httpx.get(f"{served.url}/jobs").json()["jobs"][0]
    assert job["state"] == "done" and job["version"] == version
    assert {"accuracy", "macro_f1", "train_loss"} <= {h["name"] for h in job["history"]}


def test_annotation_webhooks_train_every_n_annotations(ls_client, make_project, serve_model):
    project = make_project(SENTIMENT, [{"text": t} for t in POSITIVE[:2] + NEGATIVE[:2]])
    served = serve_model("sklearn_text_classifier", {"START_TRAINING_EACH_N_UPDATES": 4})
    ml = ls_client.ml.create(project=project.id, url=served.url, title="sklearn")

    for task_id, label in zip(project.task_ids, ["Positive"] * 2 + ["Negative"] * 2, strict=True):
        choose(ls_client, task_id, label)

    assert wait_for_new_version(ls_client, ml.id, ml.model_version).endswith("-v1")
    assert [j["reason"] for j in httpx.get(f"{served.url}/jobs").json()["jobs"]] == [
        "ANNOTATION_CREATED"
    ]


def test_training_falls_back_to_a_personal_access_token_when_legacy_tokens_are_off(
    label_studio, make_project, serve_model
):
    """/setup hands the backend the legacy token, which Label Studio 1.23 refuses by default."""
    project = make_project(SENTIMENT, [{"text": t} for t in POSITIVE[:2] + NEGATIVE[:2]])
    pat = label_studio.pat()
    pat_client = LabelStudio(base_url=label_studio.url, api_key=pat)
    served = serve_model(
        "sklearn_text_classifier",
        {"START_TRAINING_EACH_N_UPDATES": 0, "LABEL_STUDIO_API_KEY": pat},
    )
    ml = pat_client.ml.create(project=project.id, url=served.url, title="sklearn")
    for task_id, label in zip(project.task_ids, ["Positive"] * 2 + ["Negative"] * 2, strict=True):
        choose(pat_client, task_id, label)
    settings = pat_client.jwt_settings
    ttl = settings.get().api_token_ttl_days
    settings.update(
        legacy_api_tokens_enabled=False, api_tokens_enabled=True, api_token_ttl_days=ttl
    )
    try:
        pat_client.ml.train(ml.id)
        version = wait_for_new_version(pat_client, ml.id, ml.model_version)
    finally:
        settings.update(
            legacy_api_tokens_enabled=True, api_tokens_enabled=True, api_token_ttl_days=ttl
        )

    assert version.endswith("-v1")
    assert "refused the token (401)" in served.log()


def test_interactive_substring_matching_suggests_the_other_occurrences(
    label_studio, ls_client, make_project, serve_model
):
    text = "Apple makes the Apple Watch; apple pie is not Apple. Pineapple!"
    project = make_project(NER, [{"text": text}])
    served = serve_model("interactive_substring_matching")
    ml = ls_client.ml.create(
        project=project.id, url=served.url, title="substring", is_interactive=True
    )
    marked = {
        "id": "manual-1",
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "origin": "manual",
        "value": {"start": 0, "end": 5, "text": "Apple", "labels": ["ORG"]},
    }

    answer = api(label_studio).post(
        f"/api/ml/{ml.id}/interactive-annotating",
        json={"task": project.task_ids[0], "context": {"result": [marked]}},
    )

    assert answer.status_code == 200, answer.text
    suggestion = answer.json()["data"]
    found = [
        (r["value"]["start"], r["value"]["text"], r["value"]["labels"])
        for r in suggestion["result"]
    ]
    assert found == [(16, "Apple", ["ORG"]), (29, "apple", ["ORG"]), (46, "Apple", ["ORG"])]
    assert all(r["from_name"] == "label" and r["to_name"] == "text" for r in suggestion["result"])
    assert stored(ls_client, project.id) == [], "interactive suggestions are not stored"
