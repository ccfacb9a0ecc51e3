"""Train now, train every N annotations, and what the backend says about its training.

Label Studio's own ``TR`` state cannot be trusted: every read of the ML backend re-runs its
health check and overwrites it. The backend's ``GET /jobs`` is the real story (queued,
running with progress, done with a new version, failed with a reason), so that is shown.
"""

from __future__ import annotations

from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError
from app.services.training_client import Job, TrainingClient, TrainingError


def summary(job: Job) -> str:
    """One line for the panel: where the backend's latest training stands."""
    if job.state == "running" and job.total:
        return f"training: step {job.step} of {job.total}"
    if job.state == "done":
        return f"trained: version {job.version}"
    if job.state == "failed":
        return f"training failed: {job.error}"
    return job.state


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
) -> list[Job]:
    """The backend's training jobs, newest first (a model server of this app: ``GET /jobs``)."""
    client = TrainingClient(backend_url, basic_auth)
    try:
        return await client.jobs(None if project_id is None else str(project_id))
    except TrainingError as exc:
        raise StudioError(str(exc)) from exc
    finally:
        await client.aclose()
