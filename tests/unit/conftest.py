"""Shared pieces for the unit tests: test-model manifests, an in-process server, LS samples."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.sdk.server import create_app
from tests.unit.fake_models import manifest

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "ls_samples"


def sample(name: str) -> dict[str, Any]:
    """The body Label Studio 1.23.2 really sent (recorded from a live instance)."""
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))["body"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def _running(
    model_class: str,
    model_dir: Path,
    *,
    params: dict[str, Any] | None = None,
    trains: bool = False,
    wait_until_up: bool = True,
    **options: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its lifespan, reached in-process over ASGI on this event loop."""
    app = create_app(manifest(model_class, trains=trains), params or {}, model_dir, **options)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://model") as client,
    ):
        if wait_until_up:
            await wait_for(client, lambda r: r.status_code == 200, auth=options.get("basic_auth"))
        yield client


async def wait_for(client: httpx.AsyncClient, ok, *, path="/health", auth=None, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(path, auth=auth)
        if ok(response):
            return response
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path} never got there: {response.status_code} {response.text}")
        await asyncio.sleep(0.02)


@pytest.fixture
def serve(tmp_path: Path):
    """``async with serve("Echo") as client``: a started server; same model dir every call."""

    def start(model_class: str, **kwargs: Any):
        return _running(model_class, kwargs.pop("model_dir", tmp_path / "models"), **kwargs)

    return start


@pytest.fixture
def poll():
    return wait_for


@pytest.fixture
def ls_sample():
    return sample
