"""Model versions on disk, laid out so a crash at any moment leaves a usable state.

    <model_dir>/<project>/versions/.tmp-XXXX/      a training run in progress (removed on start)
    <model_dir>/<project>/versions/<Class>-v3/     a finished version (renamed into place)
    <model_dir>/<project>/versions/<Class>-v3/_version.json   when it was made, its metrics
    <model_dir>/<project>/active                   the name of the version that serves

A version appears by one ``rename`` and becomes active by one ``os.replace``, so readers see
either the old state or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backends.sdk.wire import VersionInfo

TMP_PREFIX = ".tmp-"
META_FILE = "_version.json"
_NUMBER = re.compile(r"-v(\d+)$")


class VersionStore:
    def __init__(self, model_dir: Path, class_name: str):
        self.model_dir = model_dir
        self.class_name = class_name

    @property
    def initial(self) -> str:
        """The version of a project that has never been trained."""
        return f"{self.class_name}-v0"

    def project_dir(self, project_id: str) -> Path:
        return self.model_dir / project_id

    def versions_dir(self, project_id: str) -> Path:
        return self.project_dir(project_id) / "versions"

    def projects(self) -> list[str]:
        if not self.model_dir.is_dir():
            return []
        return sorted(p.name for p in self.model_dir.iterdir() if (p / "versions").is_dir())

    def active(self, project_id: str) -> str | None:
        """The active trained version, if its directory still exists."""
        pointer = self.project_dir(project_id) / "active"
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.versions_dir(project_id) / name).is_dir() else None

    def names(self, project_id: str) -> list[str]:
        root = self.versions_dir(project_id)
        if not root.is_dir():
            return []
        found = [p.name for p in root.iterdir() if p.is_dir() and _NUMBER.search(p.name)]
        return sorted(found, key=version_number)

    def describe(self, project_id: str, active: str) -> list[VersionInfo]:
        infos = []
        for name in self.names(project_id):
            meta = _read_meta(self.versions_dir(project_id) / name / META_FILE)
            infos.append(
                VersionInfo(
                    version=name,
                    active=name == active,
                    created_at=meta.get("created_at"),
                    metrics=meta.get("metrics") or {},
                )
            )
        return infos

    def remove_leftovers(self, project_id: str) -> list[Path]:
        """Delete the work directories of training runs a crash or kill interrupted."""
        root = self.versions_dir(project_id)
        leftovers = sorted(root.glob(f"{TMP_PREFIX}*")) if root.is_dir() else []
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)
        return leftovers

    def new_workdir(self, project_id: str) -> Path:
        root = self.versions_dir(project_id)
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=root))

    def publish(self, project_id: str, workdir: Path, metrics: dict[str, float]) -> str:
        """Turn a finished work directory into the next version (not yet active)."""
        names = self.names(project_id)
        number = version_number(names[-1]) + 1 if names else 1
        name = f"{self.class_name}-v{number}"
        meta = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"), "metrics": metrics}
        (workdir / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        workdir.rename(self.versions_dir(project_id) / name)
        return name

    def set_active(self, project_id: str, name: str) -> None:
        self._write_atomically(self.project_dir(project_id) / "active", name)

    def version_dir(self, project_id: str, name: str) -> Path:
        return self.versions_dir(project_id) / name

    @staticmethod
    def _write_atomically(path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".active-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def version_number(name: str) -> int:
    match = _NUMBER.search(name)
    return int(match.group(1)) if match else 0


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
