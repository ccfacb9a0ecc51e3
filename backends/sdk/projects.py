"""Per-project state: who the project is, which config it uses, which version serves it.

Label Studio normally calls ``/setup`` before anything else, but a restarted server may first
hear of a project through ``/predict`` or a webhook (a Start Training right after a restart), so
every entry point can create one, and what ``/setup`` said is kept on disk next to the project's
versions: where Label Studio is, its token (readable by the owner only) and the label config.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from backends.sdk import label_config
from backends.sdk.model import TRAIN_ON_EVENTS, Model, Project

DEFAULT_PROJECT = "default"  # a /predict without a project uid (hand-made requests)
SETUP_FILE = "setup.json"

log = logging.getLogger("ml_launcher.server")


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
            _restore_setup(project)
            self._projects[project_id] = project
        return project

    def remember_setup(self, project: Project) -> None:
        """Keep what /setup said, atomically, so a restart can train before the next /setup."""
        fields = {
            "hostname": project.hostname,
            "access_token": project.access_token,
            "extra_params": project.extra_params,
            "label_config": project.label_config.xml if project.label_config else None,
        }
        project.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=project.directory, prefix=".setup-")
        with os.fdopen(handle, "w", encoding="utf-8") as file:  # mkstemp: mode 0600
            json.dump(fields, file)
        os.replace(temporary, project.directory / SETUP_FILE)

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


def _restore_setup(project: Project) -> None:
    path = project.directory / SETUP_FILE
    if not path.is_file():
        return
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        xml = fields.get("label_config")
        project.label_config = label_config.parse(xml) if xml else None
    except (OSError, ValueError) as exc:  # a damaged file only costs waiting for /setup
        log.warning("ignoring %s: %s", path, exc)
        return
    project.hostname = fields.get("hostname")
    project.access_token = fields.get("access_token")
    project.extra_params = fields.get("extra_params") or {}
