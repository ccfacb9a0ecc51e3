"""Training job records: what ``/jobs`` shows, kept on disk so a restart can still tell the story.

    <model_dir>/<project>/jobs/<id>.json

A record is rewritten (aside, then renamed) on every state change and at most once a second
while metrics arrive. A server killed mid-training leaves a record saying "running"; the next
start turns it into "failed: server stopped during training", so nobody waits on a dead job.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger("ml_launcher.server")

INTERRUPTED = "server stopped during training"
SAVE_INTERVAL_S = 1.0  # while a job runs, its record on disk trails the live one by this much


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # NotEnoughData: nothing to learn yet, no new version
    CANCELLED = "cancelled"


@dataclass
class Job:
    id: str
    project_id: str
    reason: str  # what asked for it: START_TRAINING, ANNOTATION_CREATED, TRAIN, MANUAL
    state: JobState = JobState.QUEUED
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    progress: dict[str, int] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # every report.metric call
    metrics: dict[str, float] = field(default_factory=dict)  # what fit returned
    version: str | None = None
    error: str | None = None
    error_id: str | None = None
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.state not in (JobState.QUEUED, JobState.RUNNING)

    def finish(self, state: JobState, error: str | None = None) -> None:
        self.state, self.error, self.finished_at = state, error, time.time()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project_id,
            "reason": self.reason,
            "state": self.state.value,
            "cancelling": self.cancel_requested and not self.finished,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": self.progress,
            "history": list(self.history),
            "metrics": dict(self.metrics),
            "version": self.version,
            "error": self.error,
            "error_id": self.error_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        return cls(
            id=str(data["id"]),
            project_id=str(data["project"]),
            reason=str(data.get("reason") or ""),
            state=JobState(data["state"]),
            created_at=_stamp(data.get("created_at")) or 0.0,
            started_at=_stamp(data.get("started_at")),
            finished_at=_stamp(data.get("finished_at")),
            progress=data.get("progress"),
            history=list(data.get("history") or []),
            metrics=dict(data.get("metrics") or {}),
            version=data.get("version"),
            error=data.get("error"),
            error_id=data.get("error_id"),
        )


class JobReport:
    """The ``TrainingReport`` a model's ``fit`` writes to; readable live through ``/jobs``."""

    def __init__(self, job: Job, store: JobStore):
        self._job = job
        self._store = store

    def progress(self, step: int, total: int) -> None:
        self._job.progress = {"step": int(step), "total": int(total)}
        self._store.save(self._job, throttled=True)

    def metric(self, name: str, value: float, step: int) -> None:
        self._job.history.append({"name": name, "value": float(value), "step": int(step)})
        self._store.save(self._job, throttled=True)

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_requested


class JobStore:
    """Job records on disk; safe to call from the event loop and the training thread."""

    def __init__(self, model_dir: Path):
        self.model_dir = model_dir
        self._lock = threading.Lock()
        self._saved_at: dict[str, float] = {}

    def path(self, job: Job) -> Path:
        return self.model_dir / job.project_id / "jobs" / f"{job.id}.json"

    def save(self, job: Job, *, throttled: bool = False) -> None:
        """Write the record aside and rename it over the old one; never raises."""
        now = time.monotonic()
        if throttled and now - self._saved_at.get(job.id, 0.0) < SAVE_INTERVAL_S:
            return
        with self._lock:
            self._saved_at[job.id] = now
            target = self.path(job)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".job-", dir=target.parent)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(job.to_json(), handle)
                os.replace(tmp, target)
            except OSError as exc:  # a full disk must not fail the training itself
                log.warning("could not save training job %s: %s", job.id, exc)

    def forget(self, job: Job) -> None:
        with self._lock:
            self._saved_at.pop(job.id, None)
            self.path(job).unlink(missing_ok=True)

    def load(self) -> list[Job]:
        """Every saved job; one that was queued or running when the server died becomes failed."""
        jobs = []
        for path in sorted(self.model_dir.glob("*/jobs/*.json")):
            try:
                job = Job.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable training job record %s: %s", path, exc)
                continue
            if not job.finished:
                job.state, job.error = JobState.FAILED, INTERRUPTED
                job.finished_at = path.stat().st_mtime  # the last moment it was known alive
                self.save(job)
                log.info("training job %s of project %s: %s", job.id, job.project_id, INTERRUPTED)
            jobs.append(job)
        for leftover in self.model_dir.glob("*/jobs/.job-*"):
            leftover.unlink(missing_ok=True)
        return jobs


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def _stamp(text: str | None) -> float | None:
    return None if not text else datetime.fromisoformat(text).timestamp()
