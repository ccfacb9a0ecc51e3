"""Train now, train every N annotations, and what the backend says about its training.

Label Studio's own ``TR`` state cannot be trusted: every read of the ML backend re-runs its
health check and overwrites it. The backend's ``GET /jobs`` is the real story (queued,
running with progress, done with a new version, failed with a reason), so that is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError


@dataclass(frozen=True)
class TrainingJob:
    id: str
    project: str
    reason: str
    state: str  # queued | running | done | failed | skipped | cancelled
    created_at: str  # ISO 8601
    finished_at: str | None = None
    step: int | None = None
    steps: int | None = None
    version: str | None = None
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state not in ("queued", "running")

    @property
    def summary(self) -> str:
        if self.state == "running" and self.steps:
            return f"training: step {self.step} of {self.steps}"
        if self.state == "done":
            return f"trained: version {self.version}"
        if self.state == "failed":
            return f"training failed: {self.error}"
        return self.state


async def train_now(studio: Studio, backend_id: int) -> None:
    """Label Studio sends the backend ``/webhook`` START_TRAINING (not ``/train``) and answers
    200 even when the backend is down, so check :func:`backend_jobs` for what happened."""
    await studio.call(studio.client.ml.train, backend_id)


async def set_auto_train(studio: Studio, project_id: int, every: int) -> None:
    """Train after every ``every`` annotations (Label Studio counts); 0 turns it off."""
    if every < 0:
        raise StudioError("Train every N annotations: N must be 0 (off) or more.")
    await studio.call(
        studio.client.projects.update, project_id, min_annotations_to_start_training=every
    )


async def backend_jobs(
    backend_url: str, project_id: int | None = None, basic_auth: tuple[str, str] | None = None
) -> list[TrainingJob]:
    """The backend's training jobs, newest first (a model server of this app: ``GET /jobs``)."""
    params = {"project": str(project_id)} if project_id is not None else None
    auth = httpx.BasicAuth(*basic_auth) if basic_auth else None
    async with httpx.AsyncClient(auth=auth, timeout=10.0) as http:
        try:
            response = await http.get(f"{backend_url.rstrip('/')}/jobs", params=params)
        except httpx.HTTPError as exc:
            raise StudioError(f"Cannot reach the model server at {backend_url}: {exc}") from exc
    if response.status_code == 404:
        raise StudioError(
            f"{backend_url} does not report training jobs (not an ML Launcher server)."
        )
    if response.status_code >= 400:
        raise StudioError(f"The model server answered {response.status_code} for /jobs.")
    return [_job(j) for j in response.json().get("jobs", [])]


def _job(data: dict[str, Any]) -> TrainingJob:
    progress = data.get("progress") or {}
    return TrainingJob(
        id=str(data["id"]),
        project=str(data.get("project") or ""),
        reason=str(data.get("reason") or ""),
        state=str(data.get("state") or "queued"),
        created_at=str(data.get("created_at") or ""),
        finished_at=data.get("finished_at"),
        step=progress.get("step"),
        steps=progress.get("total"),
        version=data.get("version"),
        error=data.get("error"),
        metrics=dict(data.get("metrics") or {}),
    )
