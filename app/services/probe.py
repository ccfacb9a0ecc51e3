"""The "Test" button: is the server healthy, and does one real prediction come back?

The sample task is built from the model's own default label config, with data for each object
tag; an interactive model also gets a marked span as context, as the editor would send.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from app.services.watch import json_object
from backends.sdk import label_config
from backends.sdk.manifest import Capability, Manifest

SAMPLE_TEXT = "Ada Lovelace wrote to Charles Babbage from London. Ada loved numbers."
_SAMPLE_PNG = (  # a 1x1 white PNG, so image models get a real, decodable picture
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4"
    "//8/AAX+Av4N70a4AAAAAElFTkSuQmCC"
)


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # a result type, not a pytest test class

    ok: bool
    summary: str
    latency_ms: float | None = None
    response: dict[str, Any] | None = None


def sample_request(manifest: Manifest) -> dict[str, Any]:
    """A /predict body with one task for the manifest's default label config."""
    config = label_config.parse(manifest.default_label_config or "<View></View>")
    data = {obj.data_key: _sample_value(obj.tag) for obj in config.objects}
    if not data:
        data = {"text": SAMPLE_TEXT}
    context = _interactive_context(config) if manifest.has(Capability.INTERACTIVE) else None
    return {
        "tasks": [{"id": 1, "data": data}],
        "label_config": config.xml,
        "params": {"login": None, "password": None, "context": context},
    }


def _sample_value(tag: str) -> Any:
    if tag == "Image":
        return _SAMPLE_PNG
    if tag == "HyperText":
        return f"<p>{SAMPLE_TEXT}</p>"
    if tag == "Paragraphs":
        return [{"author": "Ada", "text": SAMPLE_TEXT}]
    return SAMPLE_TEXT


def _interactive_context(config: label_config.LabelConfig) -> dict[str, Any] | None:
    """The span an annotator would have marked: the first word, with the first label."""
    pairs = config.find("Labels", ["Text", "HyperText"])
    if not pairs or not pairs[0][0].labels:
        return None
    control, obj = pairs[0]
    word = SAMPLE_TEXT.split()[0]
    value = {"start": 0, "end": len(word), "text": word, "labels": [control.labels[0]]}
    region = {
        "id": "sample",
        "from_name": control.name,
        "to_name": obj.name,
        "type": "labels",
        "value": value,
        "origin": "manual",
    }
    return {"result": [region]}


async def test_request(client: httpx.AsyncClient, manifest: Manifest) -> TestResult:
    try:
        health = await client.get("/health")
    except httpx.HTTPError as exc:
        return TestResult(False, f"The server does not answer: {exc}.")
    if health.status_code == 401:
        return TestResult(False, "The server refused the basic-auth credentials.")
    status = json_object(health).get("status", health.status_code)
    if health.status_code != 200:
        return TestResult(False, f"Health check says {status}; the model is not ready yet.")
    started = time.perf_counter()
    try:
        answer = await client.post("/predict", json=sample_request(manifest), timeout=120)
    except httpx.HTTPError as exc:
        return TestResult(False, f"The prediction request failed: {exc}.")
    latency = (time.perf_counter() - started) * 1000
    body = json_object(answer)
    if answer.status_code != 200:
        error = body.get("error") or answer.text[:200]
        summary = f"Prediction failed ({answer.status_code}): {error}"
        return TestResult(False, summary, latency, body)
    results = body.get("results")
    if not isinstance(results, list) or len(results) != 1:
        return TestResult(False, "The server answered without one result per task.", latency, body)
    summary = f"Health {status}; {_describe(results[0])} in {latency:.0f} ms."
    return TestResult(True, summary, latency, body)


def _describe(prediction: Any) -> str:
    predictions = prediction if isinstance(prediction, list) else [prediction]
    regions = [r for p in predictions if isinstance(p, dict) for r in p.get("result") or []]
    if not regions:
        return "the model answered with no regions"
    labels: Counter[str] = Counter()
    for region in regions:
        for key, items in (region.get("value") or {}).items():
            if key.endswith(("labels", "choices")) and isinstance(items, list):
                labels.update(str(item) for item in items)
    detail = ", ".join(f"{n} {label}" for label, n in labels.most_common(3))
    noun = "region" if len(regions) == 1 else "regions"
    return f"{len(regions)} {noun} predicted" + (f" ({detail})" if detail else "")
