"""The Label Studio side of the wire: health, setup, bad requests, errors and metrics.

Bodies come from tests/data/ls_samples, recorded from a live Label Studio 1.23.2.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest

pytestmark = pytest.mark.anyio

LABELS_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Labels name="ner" toName="text"><Label value="PER"/></Labels></View>'
)


async def test_health_says_loading_until_setup_finished(serve, poll, ls_sample):
    gate = threading.Event()
    async with serve("SlowToLoad", params={"GATE": gate}, wait_until_up=False) as client:
        loading = await client.get("/health")
        assert loading.status_code == 503
        assert loading.json()["status"] == "LOADING"
        refused = await client.post("/predict", json=ls_sample("post_predict"))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        gate.set()
        up = await poll(client, lambda r: r.status_code == 200, path="/")
        assert up.json() == {
            "status": "UP",
            "model_class": "SlowToLoad",
            "model_version": "SlowToLoad-v0",
        }


async def test_failed_setup_keeps_serving_the_reason(serve, poll, ls_sample, caplog):
    async with serve("BrokenSetup", wait_until_up=False) as client:
        failed = await poll(client, lambda r: r.json()["status"] != "LOADING")
        assert failed.status_code == 503
        assert failed.json()["status"] == "FAILED"
        assert failed.json()["error"] == "FileNotFoundError: weights not found: missing.bin"
        setup = await client.post("/setup", json=ls_sample("post_setup"))
        assert setup.status_code == 503
        assert "weights not found" in setup.json()["error"]
    assert "model failed to load" in caplog.text
    assert "Traceback" in caplog.text


async def test_setup_with_label_studio_body_returns_the_project_version(serve, ls_sample):
    async with serve("Echo") as client:
        response = await client.post("/setup", json=ls_sample("post_setup"))
    assert response.status_code == 200
    assert response.json() == {"model_version": "Echo-v0"}


@pytest.mark.parametrize(
    "extra_params", [None, {"THRESHOLD": 0.9}, '{"THRESHOLD": "0.9"}', "", {"custom": [1, 2]}]
)
async def test_setup_accepts_extra_params_as_object_string_or_null(serve, ls_sample, extra_params):
    body = {**ls_sample("post_setup"), "extra_params": extra_params}
    async with serve("Echo") as client:
        response = await client.post("/setup", json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("extra_params", "field", "words"),
    [
        ('{"THRESHOLD": 0.9', "extra_params", "not valid JSON"),
        ("[1, 2]", "extra_params", "valid dictionary"),
        ({"THRESHOLD": "high"}, "extra_params.THRESHOLD", "expected a number"),
    ],
)
async def test_setup_refuses_bad_extra_params_naming_them(
    serve, ls_sample, extra_params, field, words
):
    body = {**ls_sample("post_setup"), "extra_params": extra_params}
    async with serve("Echo") as client:
        response = await client.post("/setup", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert words in response.json()["error"]


async def test_setup_refuses_a_config_the_model_cannot_serve(serve, ls_sample):
    async with serve("Echo") as client:
        wrong = await client.post(
            "/setup", json={**ls_sample("post_setup"), "schema": LABELS_CONFIG}
        )
        broken = await client.post("/setup", json={**ls_sample("post_setup"), "schema": "<View"})
    assert wrong.status_code == 422
    assert wrong.json()["error"] == (
        "fake_echo needs a <Choices> on a <Text> or <HyperText>; this project has Labels on a Text"
    )
    assert broken.status_code == 422
    assert "not valid XML" in broken.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/predict", {"project": "1.2"}, 422, "tasks"),
        ("/predict", {"tasks": "all of them"}, 422, "tasks"),
        ("/predict", {"tasks": [{"id": 1}]}, 422, "tasks.0.data"),
        ("/predict", {"tasks": [], "project": "../../etc.1"}, 422, "project"),
        ("/predict", [1, 2], 422, "body"),
        ("/setup", {"schema": "<View/>"}, 422, "project"),
        ("/setup", {"project": "1.2"}, 422, "schema"),
        ("/webhook", {"project": {"id": 1}}, 422, "action"),
        ("/webhook", {"action": ""}, 422, "action"),
        ("/train", {"annotations": []}, 422, "project"),
    ],
)
async def test_wrong_shapes_get_4xx_naming_the_field(serve, path, body, status, field):
    async with serve("Echo") as client:
        response = await client.post(path, json=body)
    assert response.status_code == status
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(f"{field}: ")


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe"])
async def test_malformed_json_is_a_400(serve, raw):
    async with serve("Echo") as client:
        response = await client.post("/predict", content=raw)
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert "not valid JSON" in response.json()["error"]


async def test_oversized_bodies_get_413_with_or_without_content_length(serve, ls_sample):
    big = json.dumps(ls_sample("post_predict")).encode()

    async def chunked():
        for start in range(0, len(big), 100):
            yield big[start : start + 100]

    async with serve("Echo", max_body_bytes=1000) as client:
        declared = await client.post("/predict", content=big)
        streamed = await client.post("/predict", content=chunked())
        small = await client.post("/predict", json={**ls_sample("post_predict"), "tasks": []})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert "limit of 1000 bytes" in response.json()["error"]
    assert small.status_code == 200


async def test_unknown_routes_and_methods_answer_json(serve):
    async with serve("Echo") as client:
        missing = await client.get("/predictions")
        wrong_method = await client.get("/predict")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not found: GET /predictions"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "method not allowed: GET /predict"}


async def test_model_bug_is_a_500_with_an_error_id_and_the_traceback_only_in_the_log(
    serve, ls_sample, caplog
):
    caplog.set_level(logging.INFO)
    async with serve("CrashesInCheck") as client:
        response = await client.post("/setup", json=ls_sample("post_setup"))
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "KeyError: 'toName'"
    assert "Traceback" not in response.text
    assert f"error_id={body['error_id']}" in caplog.text
    assert "Traceback" in caplog.text


async def test_every_request_is_logged_in_one_line(serve, caplog):
    caplog.set_level(logging.INFO)
    async with serve("Echo") as client:
        await client.post("/setup", json={"project": "1.1", "schema": "<View/>"})
        await client.get("/versions")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST /setup")]
    assert len(lines) == 1
    # what the panel polls every second stays out of the INFO log
    assert not [r for r in caplog.records if r.getMessage().startswith("GET /versions")]
    assert lines[0].split()[:2] == ["POST", "/setup"]
    assert lines[0].endswith(" ms")


async def test_metrics_count_requests_and_predictions(serve, ls_sample):
    async with serve("Echo") as client:
        before = (await client.get("/metrics")).text
        await client.post("/predict", json=ls_sample("post_predict"))
        await client.post("/predict", json={"tasks": 1})
        response = await client.get("/metrics")
    after = response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "ml_launcher_predictions_total 0" in before
    assert "ml_launcher_predictions_total 5" in after
    assert 'ml_launcher_requests_total{route="/predict",method="POST",status="200"} 1' in after
    assert 'ml_launcher_requests_total{route="/predict",method="POST",status="422"} 1' in after
    assert 'ml_launcher_request_duration_seconds_count{route="/predict"} 2' in after
    assert "ml_launcher_model_up 1" in after
    assert "ml_launcher_inference_queue_depth 0" in after
