"""A real Label Studio for the end-to-end tests, one per session, plus SDK helpers around it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from tests.support.label_studio import running_label_studio

E2E_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """Label Studio 1.23.2 with legacy tokens on (what ML backends receive in /setup)."""
    with running_label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        yield server


@pytest.fixture(scope="session")
def label_studio_pat_only(tmp_path_factory):
    """A second instance with the 1.23 default: legacy tokens answer 401, only PATs work."""
    workdir = tmp_path_factory.mktemp("label-studio-pat-only")
    with running_label_studio(workdir, legacy_tokens=False) as server:
        yield server


@pytest.fixture(scope="module")
def label_studio_guarded(tmp_path_factory):
    """An instance with Label Studio's default protections, which the others turn off: no ML
    backends (ML_BLOCK_LOCAL_IP) and no webhooks (SSRF_PROTECTION_ENABLED) on local addresses."""
    workdir = tmp_path_factory.mktemp("label-studio-guarded")
    protections = {"ML_BLOCK_LOCAL_IP": "true", "SSRF_PROTECTION_ENABLED": "true"}
    with running_label_studio(workdir, env=protections) as server:
        yield server


@pytest.fixture
def ls_client(label_studio) -> LabelStudio:
    return LabelStudio(base_url=label_studio.url, api_key=label_studio.legacy_token)


@dataclass(frozen=True)
class SeededProject:
    id: int
    task_ids: list[int]
    label_config: str


@pytest.fixture
def make_project(ls_client, request):
    """Factory: ``make_project(label_config, tasks, title=None) -> SeededProject``.

    ``tasks`` are task data dicts (``{"text": ...}``) or full tasks (``{"data": {...}}``).
    The projects are deleted at teardown, so tests sharing the session instance stay apart.
    """
    created: list[int] = []

    def make(label_config: str, tasks: list[dict], title: str | None = None) -> SeededProject:
        project = ls_client.projects.create(
            title=title or f"test {request.node.name}"[:50], label_config=label_config
        )
        created.append(project.id)
        imported = ls_client.projects.import_tasks(project.id, request=tasks, return_task_ids=True)
        return SeededProject(project.id, list(imported.task_ids or []), label_config)

    yield make
    for project_id in created:
        try:
            ls_client.projects.delete(project_id)
        except ApiError as exc:
            if exc.status_code != 404:  # the test may have deleted it itself
                raise
