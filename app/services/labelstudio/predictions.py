"""A project's predictions: how many per model version, delete them, pick what annotators see."""

from __future__ import annotations

from app.services.labelstudio.connection import Studio
from app.services.labelstudio.pending import version_counts


async def counts(studio: Studio, project_id: int) -> dict[str, int]:
    """Predictions per model version, e.g. ``{"SklearnTextClassifier-v1": 2000}``."""
    return await studio.call(version_counts, studio, project_id)


async def delete_all(studio: Studio, project_id: int) -> None:
    await studio.call(
        studio.client.actions.create,
        id="delete_tasks_predictions",
        project=project_id,
        selected_items={"all": True, "excluded": []},
    )


async def delete_version(studio: Studio, project_id: int, version: str) -> int:
    """Delete one version's predictions; returns how many went. No SDK 2.1.2 call for this."""
    answer = await studio.call(
        studio.raw,
        "DELETE",
        f"api/projects/{project_id}/model-versions/",
        json={"model_version": version},
    )
    return int(answer.get("deleted_predictions", 0)) if isinstance(answer, dict) else 0


async def show_version(studio: Studio, project_id: int, version: str) -> None:
    """The prediction set annotators see (a model version, or an ML backend's title for live
    predictions when a task opens)."""
    await studio.call(studio.client.projects.update, project_id, model_version=version)


async def set_prelabel(studio: Studio, project_id: int, enabled: bool) -> None:
    """Label Studio's "Use predictions to prelabel tasks" switch."""
    await studio.call(studio.client.projects.update, project_id, show_collab_predictions=enabled)
