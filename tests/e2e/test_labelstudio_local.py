"""The app's own Label Studio: starts with a kept admin token and accepts local model servers.

Installing takes minutes and a gigabyte, so the test points ``ML_LAUNCHER_LS_VENV`` at the
Label Studio the test suite already has; everything after the install is the real path,
including the first start's database creation.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.services.labelstudio import backends, projects
from app.services.labelstudio.connection import Studio, remembered_token
from app.services.labelstudio.local_studio import VENV_ENV, LocalStudio
from backends.sdk.catalog import get_manifest
from tests.support.label_studio import ls_venv
from tests.support.servers import start_model_server


def test_local_label_studio_starts_ready_for_local_models(tmp_path, monkeypatch, memory_keyring):
    monkeypatch.setenv(VENV_ENV, str(ls_venv()))
    monkeypatch.setenv("ML_LAUNCHER_DATA_DIR", str(tmp_path / "data"))
    local = LocalStudio()
    assert local.installed
    lines: list[str] = []
    server = start_model_server("sklearn_text_classifier", {}, workdir=tmp_path)

    async def scenario() -> None:
        url = await local.start(lines.append, timeout=280)
        try:
            token = remembered_token(url)
            assert token == local.credentials()[2]
            studio = Studio(url, token)
            assert (await studio.test()).ok
            manifest = get_manifest("sklearn_text_classifier")
            project = await projects.create_project(studio, "local one", manifest)
            options = backends.BackendOptions(url=server.url, title="local model")
            connected = await backends.connect(studio, project.id, options, manifest)
            assert connected.state == "connected" and not connected.warnings
        finally:
            await local.stop()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
    assert not local.running
    assert any("Starting Label Studio" in line for line in lines)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{local.url}/health", timeout=2)
