"""Training jobs: one at a time per project, in the background, with a history the panel can read.

Webhooks arrive in bursts (one per annotation) and Label Studio waits only 1 s for each, so a
request never trains itself: it queues a job and returns. While a project's job runs, further
requests fold into a single queued follow-up instead of stacking one run per annotation.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from backends.sdk.metrics import Metrics
from backends.sdk.model import Model, NotEnoughData, Project
from backends.sdk.projects import ProjectRegistry
from backends.sdk.versions import VersionStore

log = logging.getLogger("ml_launcher.server")

HISTORY = 100  # finished jobs kept in memory for /jobs


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
    reason: str  # the event that asked for it, e.g. START_TRAINING
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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project_id,
            "reason": self.reason,
            "state": self.state.value,
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


class JobReport:
    """The ``TrainingReport`` a model's ``fit`` writes to; readable live through ``/jobs``."""

    def __init__(self, job: Job):
        self._job = job

    def progress(self, step: int, total: int) -> None:
        self._job.progress = {"step": int(step), "total": int(total)}

    def metric(self, name: str, value: float, step: int) -> None:
        self._job.history.append({"name": name, "value": float(value), "step": int(step)})

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_requested


class TrainingManager:
    """Runs jobs on one training thread; call ``submit`` from the event loop only."""

    def __init__(
        self,
        model: Callable[[], Model],
        store: VersionStore,
        projects: ProjectRegistry,
        metrics: Metrics,
    ):
        self._model = model
        self._store = store
        self._projects = projects
        self._metrics = metrics
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="training")
        self._lock = threading.Lock()  # a job's QUEUED -> RUNNING switch vs. coalescing into it
        self._jobs: dict[str, Job] = {}
        self._current: dict[str, Job] = {}  # per project: the job handed to the thread
        self._follow_up: dict[str, Job] = {}  # per project: at most one job waiting behind it
        self._drivers: set[asyncio.Task] = set()

    def submit(self, project: Project, reason: str) -> tuple[Job, bool]:
        """The job that will train ``project``, and whether the request joined an existing one."""
        with self._lock:
            current = self._current.get(project.id)
            if current is not None and current.state is JobState.QUEUED:
                return current, True
        waiting = self._follow_up.get(project.id)
        if waiting is not None:
            return waiting, True
        job = Job(id=uuid.uuid4().hex[:12], project_id=project.id, reason=reason)
        self._remember(job)
        if current is None:
            self._current[project.id] = job
            driver = asyncio.get_running_loop().create_task(self._drive(project, job))
            self._drivers.add(driver)
            driver.add_done_callback(self._drivers.discard)
        else:
            self._follow_up[project.id] = job
        return job, False

    def jobs(self, project_id: str | None = None) -> list[Job]:
        """Newest first."""
        found = [j for j in self._jobs.values() if project_id in (None, j.project_id)]
        return sorted(found, key=lambda j: j.created_at, reverse=True)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Queued jobs are cancelled; a running ``fit`` sees ``report.cancelled`` turn true."""
        with self._lock:
            for job in self._jobs.values():
                if not job.finished:
                    job.cancel_requested = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        for driver in self._drivers:
            driver.cancel()

    async def _drive(self, project: Project, job: Job | None) -> None:
        loop = asyncio.get_running_loop()
        while job is not None:
            try:
                await loop.run_in_executor(self._executor, self._run, project, job)
            except RuntimeError:  # the executor was shut down: the app is closing
                job.state, job.finished_at = JobState.CANCELLED, time.time()
            self._metrics.training_jobs[job.state.value] += 1
            job = self._follow_up.pop(project.id, None)
            if job is None:
                del self._current[project.id]
            else:
                self._current[project.id] = job

    def _run(self, project: Project, job: Job) -> None:
        with self._lock:
            if job.cancel_requested:
                job.state, job.finished_at = JobState.CANCELLED, time.time()
                return
            job.state, job.started_at = JobState.RUNNING, time.time()
        log.info("training job %s started for project %s (%s)", job.id, project.id, job.reason)
        workdir = self._store.new_workdir(project.id)
        try:
            metrics = self._model().fit(project, workdir, JobReport(job)) or {}
            job.metrics = {name: float(value) for name, value in metrics.items()}
            if job.cancel_requested:
                job.state = JobState.CANCELLED
            else:
                job.version = self._publish(project, workdir, job.metrics)
                job.state = JobState.DONE
        except NotEnoughData as exc:
            job.state, job.error = JobState.SKIPPED, str(exc)
        except Exception as exc:
            job.state, job.error = JobState.FAILED, f"{type(exc).__name__}: {exc}"
            job.error_id = uuid.uuid4().hex
            log.exception("training job %s failed (error_id=%s)", job.id, job.error_id)
        finally:
            job.finished_at = time.time()
            shutil.rmtree(workdir, ignore_errors=True)
        log.info("training job %s %s%s", job.id, job.state.value, _suffix(job))

    def _publish(self, project: Project, workdir, metrics: dict[str, float]) -> str:
        """Rename into place, load it, and only then point ``active`` at it.

        A version the model cannot load never becomes active, so a restart does not trip on it.
        """
        name = self._store.publish(project.id, workdir, metrics)
        self._model().load_version(project, self._store.version_dir(project.id, name))
        self._store.set_active(project.id, name)
        self._projects.activate(project.id, name)
        return name

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        finished = [j for j in self._jobs.values() if j.finished]
        for old in finished[: max(0, len(finished) - HISTORY)]:
            del self._jobs[old.id]


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def _suffix(job: Job) -> str:
    if job.version:
        return f": version {job.version}"
    return f": {job.error}" if job.error else ""
