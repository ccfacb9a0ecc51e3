"""Projects: pick one (with its counts), make one for a model, check it fits the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError
from backends.sdk import label_config
from backends.sdk.manifest import Manifest


@dataclass(frozen=True)
class ProjectSummary:
    id: int
    title: str
    tasks: int
    annotations: int
    predictions: int
    label_config: str
    model_version: str  # the prediction set annotators see
    show_predictions: bool  # "use predictions to prelabel tasks"
    auto_train_every: int  # min_annotations_to_start_training; 0 = off

    @property
    def label(self) -> str:
        return f"#{self.id} {self.title} ({self.tasks} tasks, {self.annotations} annotations)"


def _summary(project: Any) -> ProjectSummary:
    return ProjectSummary(
        id=int(project.id),
        title=project.title or f"Project {project.id}",
        tasks=int(project.task_number or 0),
        annotations=int(project.total_annotations_number or 0),
        predictions=int(project.total_predictions_number or 0),
        label_config=project.label_config or "",
        model_version=project.model_version or "",
        show_predictions=bool(project.show_collab_predictions),
        auto_train_every=int(project.min_annotations_to_start_training or 0),
    )


async def list_projects(studio: Studio) -> list[ProjectSummary]:
    def fetch() -> list[ProjectSummary]:
        return [_summary(p) for p in studio.client.projects.list(page_size=100)]

    return await studio.call(fetch)


async def get_project(studio: Studio, project_id: int) -> ProjectSummary:
    return _summary(await studio.call(studio.client.projects.get, project_id))


async def create_project(studio: Studio, title: str, manifest: Manifest) -> ProjectSummary:
    """A new project set up the way ``manifest``'s model expects (its default label config)."""
    title = title.strip()
    if len(title) < 3:  # Label Studio answers 400 otherwise
        raise StudioError("A project title needs at least 3 characters.")
    if not manifest.default_label_config:
        raise StudioError(
            f"{manifest.name} has no default label config; create the project in Label Studio."
        )
    project = await studio.call(
        studio.client.projects.create, title=title, label_config=manifest.default_label_config
    )
    return _summary(project)


def config_problem(manifest: Manifest, xml: str) -> str | None:
    """What ``manifest``'s model misses in this label config, in a sentence; None if it fits.

    e.g. "sklearn_text_classifier needs a <Choices> on a <Text> or <HyperText>; this project
    has RectangleLabels on an Image".
    """
    try:
        manifest.check_label_config(label_config.parse(xml))
    except (label_config.UnsupportedConfig, label_config.LabelConfigError) as exc:
        return str(exc)
    return None
