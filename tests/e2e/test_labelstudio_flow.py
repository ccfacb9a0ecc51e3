"""The Label Studio integration through the services layer, against a real Label Studio 1.23.2
and real model servers (the real SDK server in a child process).

Covers: test connection (good and bad tokens, PAT, legacy tokens disabled, wrong URL), the
label-config check, connecting, pre-annotating 2,000 tasks with cancel + resume and no
duplicates, Train now giving a new version, deleting predictions, and disconnect leaving no
ML backend and no webhook.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from app.services.labelstudio import backends, predictions, projects, training
from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.preannotate import JobOptions, PreannotateJob, Progress
from backends.sdk.catalog import get_manifest
from tests.e2e.labelstudio_servers import annotate, serve_manifest
from tests.support.servers import ServedModel, start_model_server

pytestmark = pytest.mark.e2e

SENTIMENT = get_manifest("sklearn_text_classifier")
IMAGE_CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="Car"/></RectangleLabels></View>"""
TASKS = 2000


def texts(n: int) -> list[dict[str, str]]:
    return [
        {"text": f"{'wonderful great' if i % 2 else 'awful boring'} film {i}"} for i in range(n)
    ]


@pytest.fixture(scope="module")
def studio(label_studio) -> Studio:
    return Studio(label_studio.url, label_studio.legacy_token)


@pytest.fixture(scope="module")
def sklearn_server(tmp_path_factory) -> ServedModel:
    server = start_model_server(
        "sklearn_text_classifier", {}, workdir=tmp_path_factory.mktemp("sk")
    )
    yield server
    server.stop()


def test_test_connection_explains_each_failure(studio: Studio, sklearn_server: ServedModel):
    good = asyncio.run(studio.test())
    assert good.ok and "admin@example.com" in good.message and good.version == "1.23.2"

    wrong = asyncio.run(Studio(studio.url, "not-a-real-token-123").test())
    assert not wrong.ok and "refused the token (401" in wrong.message

    down = asyncio.run(Studio("http://127.0.0.1:9", studio.token).test())
    assert not down.ok and "Cannot reach Label Studio" in down.message

    not_ls = asyncio.run(Studio(sklearn_server.url, studio.token).test())
    assert not not_ls.ok and "not a Label Studio" in not_ls.message


def test_personal_access_token_works_and_legacy_disabled_is_explained(studio: Studio, label_studio):
    with_pat = Studio(studio.url, label_studio.pat())
    assert asyncio.run(with_pat.test()).ok
    settings = with_pat.client.jwt_settings
    ttl = settings.get().api_token_ttl_days
    settings.update(
        legacy_api_tokens_enabled=False, api_tokens_enabled=True, api_token_ttl_days=ttl
    )
    try:
        refused = asyncio.run(Studio(studio.url, studio.token).test())
        assert not refused.ok
        assert "legacy tokens are disabled" in refused.message
        assert "Personal Access Token" in refused.message
    finally:
        settings.update(
            legacy_api_tokens_enabled=True, api_tokens_enabled=True, api_token_ttl_days=ttl
        )


def test_connect_refuses_a_project_the_model_cannot_serve(studio: Studio, sklearn_server):
    project = studio.client.projects.create(title="boxes", label_config=IMAGE_CONFIG)
    options = backends.BackendOptions(url=sklearn_server.url, title="sk")
    with pytest.raises(StudioError) as refused:
        asyncio.run(backends.connect(studio, project.id, options, SENTIMENT))
    assert "needs a <Choices>" in str(refused.value)
    assert "RectangleLabels on an Image" in str(refused.value)
    assert not studio.client.ml.list(project=project.id)


def test_preannotate_cancel_resume_then_train_delete_disconnect(studio: Studio, sklearn_server):
    project = asyncio.run(projects.create_project(studio, "sentiment 2k", SENTIMENT))
    ids = studio.client.projects.import_tasks(
        project.id, request=texts(TASKS), return_task_ids=True
    ).task_ids
    options = backends.BackendOptions(url=sklearn_server.url, title="sklearn")
    backend = asyncio.run(backends.connect(studio, project.id, options, SENTIMENT))
    assert backend.state == "connected"
    annotate(studio.client, ids[:6], lambda i: "Positive" if i % 2 else "Negative")
    first = train_and_wait(studio, backend, sklearn_server, project.id)

    events: list[Progress] = []
    job = PreannotateJob(studio, project.id, sklearn_server.url, options=JobOptions(chunk_size=50))

    def cancel_near_half(progress: Progress) -> None:
        events.append(progress)
        if progress.done >= TASKS // 3:
            job.cancel()

    job.on_progress = cancel_near_half
    partial = asyncio.run(job.run())
    assert partial.cancelled and 0 < partial.stored < TASKS
    assert events[0].total == TASKS and all(e.total == TASKS for e in events)
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert any(e.rate > 0 and e.eta_s is not None for e in events)

    rest = asyncio.run(PreannotateJob(studio, project.id, sklearn_server.url).run())
    assert not rest.cancelled and not rest.failures
    assert partial.stored + rest.stored == TASKS
    assert asyncio.run(predictions.counts(studio, project.id)) == {first: TASKS}
    pager = studio.client.tasks.list(
        project=project.id, fields="task_only", include="id,total_predictions", page_size=TASKS
    )
    assert Counter(t.total_predictions for t in pager.items) == {1: TASKS}  # no duplicates
    stored = studio.client.tasks.get(ids[-1]).predictions[0]
    assert stored.result[0]["value"]["choices"][0] in ("Positive", "Negative")

    annotate(studio.client, ids[6:12], lambda i: "Negative" if i % 2 else "Positive")
    second = train_and_wait(studio, backend, sklearn_server, project.id)
    assert second != first

    asyncio.run(predictions.delete_all(studio, project.id))
    assert asyncio.run(predictions.counts(studio, project.id)) == {}

    removed = asyncio.run(backends.disconnect(studio, backend.id))
    assert removed == 1
    assert studio.client.ml.list(project=project.id) == []
    assert studio.client.webhooks.list(project=str(project.id)) == []


def train_and_wait(studio: Studio, backend, server: ServedModel, project_id: int) -> str:
    """Train now through Label Studio; the backend's own job list says when a version exists."""
    before = {j.id for j in asyncio.run(training.backend_jobs(server.url, project_id))}
    asyncio.run(training.train_now(studio, backend.id))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = [
            j
            for j in asyncio.run(training.backend_jobs(server.url, project_id))
            if j.id not in before
        ]
        if jobs and jobs[0].finished:
            assert jobs[0].state == "done", training.summary(jobs[0])
            return jobs[0].version
        time.sleep(0.3)
    raise AssertionError("training did not finish within 60 s")


def test_basic_auth_backend_still_gets_annotation_webhooks(studio: Studio, tmp_path):
    """Label Studio sends webhooks without the backend's credentials; the token header fixes it."""
    auth = ("labeler", "s3cret-pass")
    params = {"START_TRAINING_EACH_N_UPDATES": "1"}
    with serve_manifest(
        "sklearn_text_classifier", tmp_path, params=params, basic_auth=auth
    ) as server:
        assert httpx.get(f"{server.url}/jobs").status_code == 401
        project = asyncio.run(projects.create_project(studio, "auth hooks", SENTIMENT))
        ids = studio.client.projects.import_tasks(
            project.id, request=texts(4), return_task_ids=True
        ).task_ids
        options = backends.BackendOptions(url=server.url, title="protected", basic_auth=auth)
        backend = asyncio.run(backends.connect(studio, project.id, options))
        assert backend.basic_auth and not backend.warnings
        annotate(studio.client, ids[:1], lambda i: "Positive")
        jobs = asyncio.run(training.backend_jobs(server.url, project.id, basic_auth=auth))
        assert [j.reason for j in jobs] == ["ANNOTATION_CREATED"]
        asyncio.run(backends.disconnect(studio, backend.id))
