"""Per-project state: who the project is, which config it uses, which version serves it.

Label Studio normally calls ``/setup`` before anything else, but a restarted server may first
hear of a project through ``/predict`` or a webhook, so every entry point can create one.
"""

from __future__ import annotations

from pathlib import Path

from backends.sdk import label_config
from backends.sdk.model import TRAIN_ON_EVENTS, Model, Project

DEFAULT_PROJECT = "default"  # a /predict without a project uid (hand-made requests)


class ProjectRegistry:
    def __init__(self, model_dir: Path, initial_version: str):
        self.model_dir = model_dir
        self.initial_version = initial_version
        self._projects: dict[str, Project] = {}
        self._versions: dict[str, str] = {}
        self._annotation_events: dict[str, int] = {}
        self.last_version: str | None = None  # the most recently activated, for /health

    def get(self, project_id: str) -> Project:
        project = self._projects.get(project_id)
        if project is None:
            project = Project(id=project_id, directory=self.model_dir / project_id)
            self._projects[project_id] = project
        return project

    def known(self) -> list[str]:
        return sorted(self._projects)

    def use_config(self, model: Model, project: Project, xml: str | None) -> None:
        """Parse and check ``xml`` once per config; raises LabelConfigError or UnsupportedConfig."""
        if not xml or (project.label_config is not None and project.label_config.xml == xml):
            return
        config = label_config.parse(xml)
        model.check_label_config(config)
        project.label_config = config

    def version(self, project_id: str) -> str:
        return self._versions.get(project_id, self.initial_version)

    def activate(self, project_id: str, version: str) -> None:
        self._versions[project_id] = version
        self.last_version = version

    def count_event(self, project_id: str, action: str) -> int:
        """Annotations created or updated in this project since start, this one included.

        Deletions and project events do not count, so "train every N annotations" keeps its pace.
        """
        count = self._annotation_events.get(project_id, 0)
        if action in TRAIN_ON_EVENTS:
            count += 1
            self._annotation_events[project_id] = count
        return count
