"""The substring matcher labels the other occurrences of what the annotator marked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backends.interactive_substring_matching.model import SubstringMatcher
from backends.sdk import label_config
from backends.sdk.catalog import get_manifest
from backends.sdk.model import Project
from backends.sdk.server import create_app

NER_CONFIG = get_manifest("interactive_substring_matching").default_label_config
APPLE_TEXT = (
    "We got hold of one of the first Apple Watches to leave Apple. "
    "Here's what we found http://t.co/yUjAbasx9N"
)


def matcher(tmp_path: Path, **params) -> SubstringMatcher:
    manifest = get_manifest("interactive_substring_matching")
    model = SubstringMatcher(manifest, manifest.validate_params(params), tmp_path)
    model.setup()
    return model


def project(tmp_path: Path, xml: str = NER_CONFIG) -> Project:
    return Project(id="7", directory=tmp_path, label_config=label_config.parse(xml))


def marked(start: int, end: int, text: str, label: str = "ORG") -> dict:
    return {
        "id": "manual-1",
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "origin": "manual",
        "value": {"start": start, "end": end, "text": text, "labels": [label]},
    }


def spans(prediction: dict) -> list[tuple[int, int, str, list[str]]]:
    return [
        (r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"])
        for r in prediction["result"]
    ]


def test_labels_the_other_occurrence_of_the_marked_span(tmp_path):
    prediction = matcher(tmp_path).predict(
        [{"id": 1, "data": {"text": APPLE_TEXT}}],
        project(tmp_path),
        {"result": [marked(32, 37, "Apple")]},
    )[0]

    assert spans(prediction) == [(55, 60, "Apple", ["ORG"])]
    region = prediction["result"][0]
    assert (region["from_name"], region["to_name"], region["type"]) == ("label", "text", "labels")
    assert prediction["score"] == region["score"] == 1.0


def test_capitalisation_is_ignored_unless_case_sensitive(tmp_path):
    text = "Paris is big. paris at night. PARIS!"
    context = {"result": [marked(0, 5, "Paris", "LOC")]}
    task = [{"data": {"text": text}}]

    loose = matcher(tmp_path).predict(task, project(tmp_path), context)[0]
    strict = matcher(tmp_path, CASE_SENSITIVE="true").predict(task, project(tmp_path), context)[0]

    assert spans(loose) == [(14, 19, "paris", ["LOC"]), (30, 35, "PARIS", ["LOC"])]
    assert loose["score"] < 1.0, "a case-folded match should score below an exact one"
    assert strict == {"result": [], "score": 0.0}


def test_whole_words_skips_matches_inside_longer_words(tmp_path):
    text = "Apple sells pineapple juice and Apple pie"
    context = {"result": [marked(0, 5, "Apple")]}
    task = [{"data": {"text": text}}]

    whole = matcher(tmp_path).predict(task, project(tmp_path), context)[0]
    anywhere = matcher(tmp_path, WHOLE_WORDS="false").predict(task, project(tmp_path), context)[0]

    assert [s[:2] for s in spans(whole)] == [(32, 37)]
    assert [s[:2] for s in spans(anywhere)] == [(16, 21), (32, 37)]


def test_text_comes_from_the_data_key_the_config_names(tmp_path):
    xml = NER_CONFIG.replace('value="$text"', 'value="$body"')
    prediction = matcher(tmp_path).predict(
        [{"data": {"body": "Bob met Bob", "text": "ignored Bob"}}],
        project(tmp_path, xml),
        {"result": [marked(0, 3, "Bob", "PER")]},
    )[0]

    assert spans(prediction) == [(8, 11, "Bob", ["PER"])]


@pytest.mark.parametrize(
    "context",
    [None, {}, {"result": []}, {"result": [{"type": "choices", "value": {"choices": ["x"]}}]}],
    ids=["none", "empty", "no-regions", "no-spans"],
)
def test_nothing_to_match_gives_no_prediction(tmp_path, context):
    tasks = [{"data": {"text": APPLE_TEXT}}, {"data": {"text": "Apple"}}]

    assert matcher(tmp_path).predict(tasks, project(tmp_path), context) == [None, None]


@pytest.mark.anyio
async def test_served_matcher_answers_an_interactive_predict_and_never_trains(tmp_path, poll):
    """The interactive request Label Studio sends from the editor, over the real server."""
    manifest = get_manifest("interactive_substring_matching")
    app = create_app(manifest, manifest.validate_params({}), tmp_path / "models")
    task = {"id": 40, "data": {"text": APPLE_TEXT}, "annotations": [], "drafts": []}
    interactive = {
        "tasks": [task],
        "project": "62053.1712586036",
        "label_config": NER_CONFIG,
        "params": {
            "login": None,
            "password": None,
            "context": {"annotation_id": None, "result": [marked(32, 37, "Apple")]},
        },
    }
    batch = {**interactive, "params": {"login": None, "password": None, "context": None}}
    start = {"action": "START_TRAINING", "project": {"id": 62053, "label_config": NER_CONFIG}}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        await poll(client, lambda r: r.status_code == 200)
        suggested = (await client.post("/predict", json=interactive)).json()["results"]
        without_context = (await client.post("/predict", json=batch)).json()["results"]
        training = await client.post("/webhook", json=start)

    assert len(suggested) == 1 and spans(suggested[0]) == [(55, 60, "Apple", ["ORG"])]
    assert suggested[0]["model_version"]
    assert [r["result"] for r in without_context] == [[]]
    assert training.status_code == 200 and training.json()["training"] == "not started"
