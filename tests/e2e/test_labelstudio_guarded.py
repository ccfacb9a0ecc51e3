"""Connecting a model on 127.0.0.1 to a real Label Studio 1.23.2 that keeps its default
protections on, as a user's own Label Studio does: what the Connect button then says.

``ML_BLOCK_LOCAL_IP`` refuses the ML backend itself; ``SSRF_PROTECTION_ENABLED`` alone lets
the backend in but refuses its webhook, with the very same 403 text. The model servers are
real ``Instance`` launches connected through ``connect_instance``, the panel's own call.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import pytest

from app.services.instances import Instance
from app.services.labelstudio import backends, projects
from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.link import connect_instance, wait_until_up
from app.services.spec import LaunchSpec
from backends.sdk.catalog import get_manifest
from tests.support.label_studio import LabelStudioServer, running_label_studio

pytestmark = pytest.mark.e2e

MODEL = "interactive_substring_matching"


@pytest.fixture(scope="module")
def label_studio_webhooks_guarded(tmp_path_factory):
    """ML backends on local addresses allowed, webhooks to them still refused (the default)."""
    workdir = tmp_path_factory.mktemp("label-studio-webhooks-guarded")
    protections = {"ML_BLOCK_LOCAL_IP": "false", "SSRF_PROTECTION_ENABLED": "true"}
    with running_label_studio(workdir, env=protections) as server:
        yield server


def studio_for(server: LabelStudioServer) -> Studio:
    return Studio(server.url, server.legacy_token)


def new_project(studio: Studio, title: str) -> int:
    return asyncio.run(projects.create_project(studio, title, get_manifest(MODEL))).id


def with_running_model(workdir: Path, scenario: Callable[[Instance], Awaitable[object]]) -> object:
    """Launch the model as the panel does, run ``scenario`` on it, and always stop it."""

    async def run() -> object:
        instance = Instance(LaunchSpec(MODEL, model_dir=workdir), poll_interval=0.2)
        await instance.start()
        try:
            await wait_until_up(instance, timeout=60)
            return await scenario(instance)
        finally:
            await instance.stop()

    return asyncio.run(asyncio.wait_for(run(), 90))


def test_blocked_local_address_is_explained_and_leaves_nothing(label_studio_guarded, tmp_path):
    studio = studio_for(label_studio_guarded)
    project_id = new_project(studio, "guarded")

    async def connect(instance: Instance) -> tuple[str, str]:
        with pytest.raises(StudioError) as refused:
            await connect_instance(studio, project_id, instance)
        return instance.url, str(refused.value)

    model_url, message = with_running_model(tmp_path, connect)
    assert f"refused the model server's address {model_url}" in message
    assert "local or private network address" in message
    assert "ML_BLOCK_LOCAL_IP=false" in message
    assert "give the model an address Label Studio may use" in message
    assert "SSRF" not in message
    assert studio.client.ml.list(project=project_id) == []
    assert studio.client.webhooks.list(project=str(project_id)) == []


def test_url_without_http_is_explained(label_studio_guarded):
    studio = studio_for(label_studio_guarded)
    project_id = new_project(studio, "no scheme")
    options = backends.BackendOptions(url="localhost:9090", title="typed by hand")
    with pytest.raises(StudioError) as refused:
        asyncio.run(backends.connect(studio, project_id, options))
    assert "only addresses that start with http:// or https://" in str(refused.value)
    assert "webhook" not in str(refused.value)
    assert studio.client.ml.list(project=project_id) == []


def test_refused_webhook_gives_a_connected_backend_with_a_warning(
    label_studio_webhooks_guarded, tmp_path
):
    """Label Studio answers 403 but has saved the backend: the user gets it, plus the reason
    annotations will never reach the model, and a second backend is never made."""
    studio = studio_for(label_studio_webhooks_guarded)
    project_id = new_project(studio, "webhooks guarded")

    async def connect(instance: Instance) -> tuple[str, backends.ConnectedBackend]:
        return instance.url, await connect_instance(studio, project_id, instance)

    model_url, backend = with_running_model(tmp_path, connect)
    assert backend.state == "connected" and backend.url == model_url
    (warning,) = backend.warnings
    assert f"will not send annotation webhooks to {model_url}/webhook" in warning
    assert "SSRF_PROTECTION_ENABLED=false" in warning
    assert "ML_BLOCK_LOCAL_IP" not in warning
    assert [ml.id for ml in studio.client.ml.list(project=project_id)] == [backend.id]
    assert studio.client.webhooks.list(project=str(project_id)) == []


def test_webhook_made_before_protection_was_on_is_reported(label_studio_webhooks_guarded, tmp_path):
    """The webhook is written straight into Label Studio's database, as if made back when
    SSRF protection was off: the API refuses to create it now, which is the point."""
    server = label_studio_webhooks_guarded
    studio = studio_for(server)
    project_id = new_project(studio, "old webhook")

    async def connect(instance: Instance) -> tuple[str, backends.ConnectedBackend]:
        add_webhook(server, project_id, backends.webhook_url(instance.url))
        return instance.url, await connect_instance(studio, project_id, instance)

    model_url, backend = with_running_model(tmp_path, connect)
    assert backend.state == "connected"
    (warning,) = backend.warnings
    assert f"will not send annotation webhooks to {model_url}/webhook" in warning
    assert "SSRF_PROTECTION_ENABLED=false" in warning
    assert asyncio.run(backends.disconnect(studio, backend.id)) == 1
    assert studio.client.ml.list(project=project_id) == []


def add_webhook(server: LabelStudioServer, project_id: int, url: str) -> None:
    insert = """INSERT INTO webhook (url, send_for_all_actions, headers, is_active, created_at,
        updated_at, organization_id, project_id, send_payload)
        SELECT ?, 1, '{}', 1, datetime('now'), datetime('now'), organization_id, id, 1
        FROM project WHERE id = ?"""
    with closing(sqlite3.connect(server.data_dir / "label_studio.sqlite3")) as db, db:
        assert db.execute(insert, (url, project_id)).rowcount == 1
