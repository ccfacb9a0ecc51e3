"""The contract every example model implements: set up once, predict a batch, fit in the background.

The server owns everything else (HTTP, queues, versions, per-task error isolation), so a model
file holds only model code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from backends.sdk.label_config import LabelConfig
from backends.sdk.manifest import Manifest
from backends.sdk.media import MediaResolver

TRAIN_ON_EVENTS = frozenset({"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"})


@dataclass
class Project:
    """What the server knows about one Label Studio project (from ``/setup`` or a webhook)."""

    id: str
    directory: Path
    label_config: LabelConfig | None = None
    hostname: str | None = None  # Label Studio's URL as it announced itself
    access_token: str | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)
    # Annotated tasks Label Studio handed over itself (the legacy /train body carries them all),
    # so training needs no call back into Label Studio.
    delivered_tasks: list[dict[str, Any]] | None = None


class TrainingReport(Protocol):
    """How ``fit`` tells the world how far it got; the server turns calls into job history."""

    def progress(self, step: int, total: int) -> None: ...

    def metric(self, name: str, value: float, step: int) -> None: ...

    @property
    def cancelled(self) -> bool: ...


class NotEnoughData(Exception):
    """``fit`` has nothing (or too little) to learn from; not a failure, no new version."""


class Model:
    """Base class. Subclasses override ``setup``, ``predict`` and, if they train, ``fit``."""

    def __init__(self, manifest: Manifest, params: dict[str, Any], model_dir: Path):
        self.manifest = manifest
        self.params = params
        self.model_dir = model_dir

    def setup(self) -> None:
        """Load weights once per process. Runs in a worker thread before /health turns UP."""

    def warmup(self) -> None:
        """Optional first inference so the first real request is not the slow one."""

    def check_label_config(self, config: LabelConfig) -> None:
        """Raise ``UnsupportedConfig`` with a sentence when this project cannot be served."""
        self.manifest.check_label_config(config)

    def predict(
        self, tasks: list[dict[str, Any]], project: Project, context: dict[str, Any] | None
    ) -> list[dict[str, Any] | None]:
        """One prediction (``{"result": [...], "score": ...}``) or None per task, in order."""
        raise NotImplementedError

    def should_train(self, event: str, annotation_count: int) -> bool:
        """Whether an annotation event starts training; START_TRAINING always does."""
        if event == "START_TRAINING":
            return True
        every = int(self.params.get("START_TRAINING_EACH_N_UPDATES") or 0)
        return event in TRAIN_ON_EVENTS and every > 0 and annotation_count % every == 0

    def fit(self, project: Project, workdir: Path, report: TrainingReport) -> dict[str, float]:
        """Train on the project's annotations, save everything needed into ``workdir``.

        Returns the final metrics. The server moves ``workdir`` into place as a new version
        and then calls ``load_version`` with it, so a crash mid-fit leaves the old one intact.
        """
        raise NotEnoughData(f"{self.manifest.name} does not train")

    def load_version(self, project: Project, directory: Path) -> None:
        """Make the version saved in ``directory`` the one that serves ``project``."""

    def media(self, project: Project) -> MediaResolver:
        """A local-file resolver for task data that signs in as this project's Label Studio.

        One per (host, token), all sharing the size-bounded cache under the model directory.
        """
        key = (project.hostname, project.access_token)
        resolvers = self.__dict__.setdefault("_media_resolvers", {})
        if key not in resolvers:
            resolvers[key] = MediaResolver(
                hostname=project.hostname or None,
                token=project.access_token or None,
                cache_dir=self.model_dir / "media-cache",
            )
        return resolvers[key]
