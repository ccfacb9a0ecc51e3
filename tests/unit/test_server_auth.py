"""Basic auth on every route, and the webhook token that lets Label Studio's webhooks through."""

from __future__ import annotations

import pytest

from backends.sdk.auth import WEBHOOK_TOKEN_HEADER, webhook_token

pytestmark = pytest.mark.anyio

CREDENTIALS = ("annotator", "s3cret")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/"),
        ("POST", "/predict"),
        ("POST", "/setup"),
        ("GET", "/metrics"),
        ("GET", "/jobs"),
        ("POST", "/webhook"),
    ],
)
async def test_every_route_needs_the_credentials(serve, method, path):
    async with serve("Echo", basic_auth=CREDENTIALS) as client:
        anonymous = await client.request(method, path, json={})
        wrong = await client.request(method, path, json={}, auth=("annotator", "guess"))
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic ")
        assert "credentials" in response.json()["error"]


async def test_right_credentials_reach_the_model(serve, ls_sample):
    async with serve("Echo", basic_auth=CREDENTIALS) as client:
        health = await client.get("/health", auth=CREDENTIALS)
        predicted = await client.post("/predict", json=ls_sample("post_predict"), auth=CREDENTIALS)
    assert health.json()["status"] == "UP"
    assert len(predicted.json()["results"]) == 5


async def test_label_studio_webhook_gets_in_with_the_token_only(serve, ls_sample):
    """Label Studio's webhooks carry only the headers stored on the webhook (protocol.md §1.7)."""
    token = webhook_token(*CREDENTIALS)
    event = ls_sample("post_webhook_annotation_created")
    async with serve("Echo", basic_auth=CREDENTIALS) as client:
        by_header = await client.post("/webhook", json=event, headers={WEBHOOK_TOKEN_HEADER: token})
        by_query = await client.post(f"/webhook?token={token}", json=event)
        by_basic = await client.post("/webhook", json=event, auth=CREDENTIALS)
        bad_token = await client.post("/webhook", json=event, headers={WEBHOOK_TOKEN_HEADER: "x"})
        token_elsewhere = await client.get("/health", headers={WEBHOOK_TOKEN_HEADER: token})
    assert [r.status_code for r in (by_header, by_query, by_basic)] == [200, 200, 200]
    assert by_header.json()["status"] == "ok"
    assert bad_token.status_code == 401
    assert token_elsewhere.status_code == 401


def test_webhook_token_is_derived_from_both_credentials_and_hides_them():
    token = webhook_token(*CREDENTIALS)
    assert token == webhook_token("annotator", "s3cret")
    assert token != webhook_token("annotator", "s3cret2")
    assert token != webhook_token("annotator2", "s3cret")
    assert "s3cret" not in token
    assert len(token) == 64
