"""One look at a running server over HTTP: its health, its counters, whether it is training."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.services.metrics import ServerCounters, parse_prometheus

# The server counts the /metrics request it is answering as in flight; that one is ours.
_OWN_METRICS_REQUEST = 1


@dataclass(frozen=True)
class Health:
    up: bool
    failed: bool
    detail: str  # the server's error when it failed, else its status word or the connection problem
    model_version: str | None = None


async def read_health(client: httpx.AsyncClient) -> Health:
    try:
        response = await client.get("/health")
    except httpx.HTTPError as exc:
        return Health(up=False, failed=False, detail=str(exc) or type(exc).__name__)
    body = json_object(response)
    status = str(body.get("status") or response.status_code)
    if status == "FAILED":
        return Health(up=False, failed=True, detail=str(body.get("error") or "no reason given"))
    version = body.get("model_version")
    return Health(response.status_code == 200, False, status, str(version) if version else None)


async def read_counters(client: httpx.AsyncClient) -> ServerCounters | None:
    try:
        response = await client.get("/metrics")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    counters = ServerCounters.from_samples(parse_prometheus(response.text), time.monotonic())
    in_flight = max(0.0, counters.in_flight - _OWN_METRICS_REQUEST)
    return ServerCounters(**{**counters.__dict__, "in_flight": in_flight})


async def read_training(client: httpx.AsyncClient) -> bool:
    """Whether a training job is running; a server without /jobs never trains."""
    try:
        response = await client.get("/jobs")
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    jobs = body.get("jobs", []) if isinstance(body, dict) else body
    return any(isinstance(job, dict) and job.get("state") == "running" for job in jobs or [])


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or ``{}`` when it sent something else (a proxy's HTML page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
