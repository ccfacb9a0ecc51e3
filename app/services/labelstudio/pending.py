"""Which tasks of a project still lack a prediction from the backend's current model version.

This is what makes pre-annotation resumable: a task counts as done once Label Studio holds a
prediction with that exact ``model_version``, so a second run sends only the rest.

Paging is by task-id cursor (``id > last``), not by page number: predictions stored while we
page change the filtered set, and page numbers would then skip tasks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError

# What a model server gets for each task; the rest of Label Studio's task (annotation
# results, drafts, ...) is large and no model reads it.
TASK_FIELDS = "id,data,meta,inner_id,predictions_model_versions"


@dataclass(frozen=True)
class Target:
    """The project as the backend's ``/predict`` needs it, and the version that marks "done"."""

    project_id: int
    uid: str  # "<id>.<created_at epoch>", as Label Studio names projects on the wire
    label_config: str
    model_version: str | None


def project_target(studio: Studio, project_id: int, backend_url: str, auth: Any) -> Target:
    """Blocking: read the project and the backend's current model version."""
    project = studio.client.projects.get(project_id)
    uid = (
        f"{project.id}.{int(project.created_at.timestamp())}"
        if project.created_at
        else str(project.id)
    )
    version = _version_from_studio(studio, project_id, backend_url)
    if version is None:
        version = _version_from_backend(
            backend_url, auth, uid, project.label_config or "", studio.url
        )
    return Target(project_id, uid, project.label_config or "", version)


def _version_from_studio(studio: Studio, project_id: int, backend_url: str) -> str | None:
    """Label Studio refreshes ``model_version`` from the backend's /setup on every read."""
    for backend in studio.client.ml.list(project=project_id):
        if (backend.url or "").rstrip("/") == backend_url.rstrip("/"):
            return backend.model_version or None
    return None


def _version_from_backend(url: str, auth: Any, uid: str, xml: str, studio_url: str) -> str | None:
    """The backend is not connected to this project: ask its /setup the way Label Studio would.

    No ``access_token`` is sent: the token of whoever runs the job stays with Label Studio.
    """
    body = {"project": uid, "schema": xml, "hostname": studio_url, "extra_params": None}
    try:
        response = httpx.post(f"{url.rstrip('/')}/setup", json=body, auth=auth, timeout=30.0)
        response.raise_for_status()
        return response.json().get("model_version") or None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise StudioError(f"The model server at {url} did not answer /setup: {exc}") from exc


def version_counts(studio: Studio, project_id: int) -> dict[str, int]:
    """Predictions per model version. SDK 2.1.2 has no call for this endpoint.

    Label Studio also lists the project's chosen version with 0 predictions; left out here.
    """
    data = studio.raw("GET", f"api/projects/{project_id}/model-versions/")
    return {str(k): int(v) for k, v in (data or {}).items() if v}


class PendingTasks:
    """Iterate, page by page, over the tasks without a prediction of ``target.model_version``.

    ``total`` is known after the first page. The server-side filter of Label Studio matches
    versions as substrings ("v1" also hides tasks predicted by "v10"), so when another
    version contains ours we page everything and decide here, exactly.
    """

    def __init__(self, studio: Studio, target: Target, page_size: int = 500):
        self.studio = studio
        self.target = target
        self.page_size = page_size
        self.total: int | None = None
        self.cursor = 0
        self._exact_filter = True

    def prepare(self) -> None:
        """Blocking: decide how to filter and count what is left."""
        version = self.target.model_version
        counts = version_counts(self.studio, self.target.project_id) if version else {}
        self._exact_filter = version is not None and not any(
            version in other and other != version for other in counts
        )
        if not self._exact_filter:
            tasks = self.studio.client.projects.get(self.target.project_id).task_number or 0
            self.total = max(0, tasks - counts.get(version or "", 0))

    def next_page(self) -> list[dict[str, Any]]:
        """Blocking: the next tasks after the cursor that still need a prediction; [] at the end."""
        while True:
            pager = self.studio.client.tasks.list(
                project=self.target.project_id,
                query=self._query(),
                fields="task_only",
                include=TASK_FIELDS,
                page=1,
                page_size=self.page_size,
            )
            if self.total is None:
                self.total = int(pager.response.total)
            raw = [t.model_dump(exclude_none=True) for t in (pager.items or [])]
            if not raw:
                return []
            self.cursor = max(int(t["id"]) for t in raw)
            tasks = [_task(t, self.target.project_id) for t in raw if self._needs_prediction(t)]
            if tasks:
                return tasks

    def _needs_prediction(self, task: dict[str, Any]) -> bool:
        versions = task.get("predictions_model_versions") or []
        if isinstance(versions, str):  # SQLite gives a comma-joined string
            versions = [v for v in versions.split(",") if v]
        if self.target.model_version is None:
            return not versions
        return self.target.model_version not in versions

    def _query(self) -> str:
        items: list[dict[str, Any]] = [
            {
                "filter": "filter:tasks:id",
                "operator": "greater",
                "type": "Number",
                "value": self.cursor,
            }
        ]
        if self._exact_filter and self.target.model_version:
            items.append(
                {
                    "filter": "filter:tasks:predictions_model_versions",
                    "operator": "not_contains",
                    "type": "List",
                    "value": [self.target.model_version],
                }
            )
        return json.dumps(
            {"filters": {"conjunction": "and", "items": items}, "ordering": ["tasks:id"]}
        )


def _task(raw: dict[str, Any], project_id: int) -> dict[str, Any]:
    task = {key: raw[key] for key in ("id", "data", "meta", "inner_id") if key in raw}
    task.setdefault("meta", {})
    task["project"] = project_id
    return task


def fetch_tasks(studio: Studio, project_id: int, task_ids: list[int]) -> list[dict[str, Any]]:
    """Blocking: these tasks, as ``/predict`` wants them (for retrying failures)."""
    return [
        _task(studio.client.tasks.get(task_id).model_dump(exclude_none=True), project_id)
        for task_id in task_ids
    ]
