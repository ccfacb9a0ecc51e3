"""A model that fails on some tasks: those are listed (and retryable), the rest are stored.

The model is a real one (tests/support/failing_model) on the real SDK server; it raises on
any text containing FAIL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.services.labelstudio import predictions
from app.services.labelstudio.connection import Studio
from app.services.labelstudio.preannotate import JobOptions, PreannotateJob
from backends.sdk.manifest import Manifest
from tests.e2e.labelstudio_servers import serve_manifest

pytestmark = pytest.mark.e2e

MANIFEST = Path(__file__).resolve().parent.parent / "support" / "failing_model" / "manifest.toml"


def test_failed_tasks_are_listed_and_the_rest_stored(label_studio, tmp_path):
    studio = Studio(label_studio.url, label_studio.legacy_token)
    config = Manifest.load(MANIFEST).default_label_config
    project = studio.client.projects.create(title="some fail", label_config=config)
    data = [{"text": f"FAIL {i}" if i % 10 == 3 else f"fine {i}"} for i in range(40)]
    ids = studio.client.projects.import_tasks(
        project.id, request=data, return_task_ids=True
    ).task_ids
    bad = {ids[i] for i in range(40) if i % 10 == 3}
    with serve_manifest(MANIFEST, tmp_path) as server:
        job = PreannotateJob(studio, project.id, server.url, options=JobOptions(chunk_size=8))
        result = asyncio.run(job.run())
        assert {f.task_id for f in result.failures} == bad
        assert result.stored == 40 - len(bad)
        assert all("error_id" in f.reason or "FAIL" in f.reason for f in result.failures)

        retried = asyncio.run(job.retry_failed())
        assert retried.stored == 0 and {f.task_id for f in retried.failures} == bad

        again = asyncio.run(PreannotateJob(studio, project.id, server.url).run())
        assert again.stored == 0 and {f.task_id for f in again.failures} == bad
    counts = asyncio.run(predictions.counts(studio, project.id))
    assert sum(counts.values()) == 40 - len(bad)
