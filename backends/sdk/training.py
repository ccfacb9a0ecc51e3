"""Training jobs: one at a time per project, in the background, with a history the panel can read.

Webhooks arrive in bursts (one per annotation) and Label Studio waits only 1 s for each, so a
request never trains itself: it queues a job and returns. While a project's job runs, further
requests fold into a single queued follow-up instead of stacking one run per annotation.
A running job stops at the model's next look at ``report.cancelled``; it then leaves no version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from backends.sdk.jobs import INTERRUPTED, Job, JobReport, JobState, JobStore
from backends.sdk.metrics import Metrics
from backends.sdk.model import Model, NotEnoughData, Project
from backends.sdk.projects import ProjectRegistry
from backends.sdk.versions import VersionStore

log = logging.getLogger("ml_launcher.server")

HISTORY = 100  # finished jobs kept (in memory and on disk) for /jobs
STOPPED_BEFORE_START = "server stopped before this job started"


class UnknownVersion(LookupError):
    """Activation named a version this project does not have."""


class TrainingManager:
    """Runs jobs on one training thread; call ``submit`` and ``cancel`` from the event loop only."""

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
        self._records = JobStore(store.model_dir)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="training")
        self._lock = threading.Lock()  # a job's QUEUED -> RUNNING switch vs. coalescing/cancel
        self._activation = threading.Lock()  # which version serves: publish vs. rollback
        self._jobs: dict[str, Job] = {}
        self._current: dict[str, Job] = {}  # per project: the job handed to the thread
        self._follow_up: dict[str, Job] = {}  # per project: at most one job waiting behind it
        self._drivers: set[asyncio.Task] = set()
        self._stopping = False

    def restore(self) -> None:
        """Read the jobs of earlier runs; those a stop interrupted are marked failed."""
        loaded = {job.id: job for job in self._records.load()}
        self._jobs = {**loaded, **self._jobs}  # one rebinding: /jobs may be reading meanwhile
        self._prune()

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
        self._jobs[job.id] = job
        self._records.save(job)
        self._prune()
        if current is None:
            self._current[project.id] = job
            driver = asyncio.get_running_loop().create_task(self._drive(project, job))
            self._drivers.add(driver)
            driver.add_done_callback(self._drivers.discard)
        else:
            self._follow_up[project.id] = job
        return job, False

    def cancel(self, job_id: str) -> Job | None:
        """Stop a job: a queued one at once, a running one at its next ``report.cancelled``.

        Returns None for an unknown id; a finished job comes back unchanged.
        """
        job = self._jobs.get(job_id)
        if job is None or job.finished:
            return job
        with self._lock:
            job.cancel_requested = True
            if job.state is JobState.QUEUED:
                job.finish(JobState.CANCELLED)
                if self._follow_up.get(job.project_id) is job:  # never reaches _drive
                    del self._follow_up[job.project_id]
                    self._metrics.training_jobs[job.state.value] += 1
        log.info("training job %s: cancel requested (%s)", job.id, job.state.value)
        self._records.save(job)
        return job

    def jobs(self, project_id: str | None = None) -> list[Job]:
        """Newest first."""
        found = [j for j in self._jobs.values() if project_id in (None, j.project_id)]
        return sorted(found, key=lambda j: j.created_at, reverse=True)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def activate(self, project: Project, name: str) -> None:
        """Serve an earlier (or later) version again: load it, then point ``active`` at it.

        Blocking (the model reads its weights); run it off the event loop.
        """
        if name not in self._store.names(project.id):
            known = ", ".join(self._store.names(project.id)) or "none yet"
            raise UnknownVersion(f"project {project.id} has no version {name!r} (it has: {known})")
        with self._activation:
            self._model().load_version(project, self._store.version_dir(project.id, name))
            self._store.set_active(project.id, name)
            self._projects.activate(project.id, name)
        log.info("project %s now serves version %s", project.id, name)

    def shutdown(self) -> None:
        """Queued jobs fail at once; a running ``fit`` sees ``report.cancelled`` turn true."""
        self._stopping = True
        with self._lock:
            for job in self._jobs.values():
                if job.finished:
                    continue
                job.cancel_requested = True
                if job.state is JobState.QUEUED:
                    job.finish(JobState.FAILED, STOPPED_BEFORE_START)
                    self._records.save(job)
                else:  # the record says so now, history included, even if fit never returns
                    interrupted = dataclasses.replace(job)
                    interrupted.finish(JobState.FAILED, INTERRUPTED)
                    self._records.save(interrupted)
        self._executor.shutdown(wait=False, cancel_futures=True)
        for driver in self._drivers:
            driver.cancel()

    async def _drive(self, project: Project, job: Job | None) -> None:
        loop = asyncio.get_running_loop()
        while job is not None:
            try:
                await loop.run_in_executor(self._executor, self._run, project, job)
            except RuntimeError:  # the executor was shut down: the app is closing
                if not job.finished:
                    job.finish(JobState.FAILED, STOPPED_BEFORE_START)
                    self._records.save(job)
            self._metrics.training_jobs[job.state.value] += 1
            job = self._follow_up.pop(project.id, None)
            if job is None:
                del self._current[project.id]
            else:
                self._current[project.id] = job

    def _run(self, project: Project, job: Job) -> None:
        with self._lock:
            if job.finished:  # cancelled while it waited
                return
            job.state, job.started_at = JobState.RUNNING, time.time()
        self._records.save(job)
        log.info("training job %s started for project %s (%s)", job.id, project.id, job.reason)
        workdir = self._store.new_workdir(project.id)
        try:
            metrics = self._model().fit(project, workdir, JobReport(job, self._records)) or {}
            job.metrics = {name: float(value) for name, value in metrics.items()}
            if job.cancel_requested:
                self._stopped(job)
            else:
                job.version = self._publish(project, workdir, job.metrics)
                job.finish(JobState.DONE)
        except NotEnoughData as exc:
            job.finish(JobState.SKIPPED, str(exc))
        except Exception as exc:
            if job.cancel_requested:  # a model may stop by raising; it was asked to
                self._stopped(job)
            else:
                job.error_id = uuid.uuid4().hex
                job.finish(JobState.FAILED, f"{type(exc).__name__}: {exc}")
                log.exception("training job %s failed (error_id=%s)", job.id, job.error_id)
        finally:
            if not job.finished:  # BaseException (e.g. interpreter exit): never leave it running
                job.finish(JobState.FAILED, "training thread stopped")
            shutil.rmtree(workdir, ignore_errors=True)
            self._records.save(job)
        log.info("training job %s %s%s", job.id, job.state.value, _suffix(job))

    def _stopped(self, job: Job) -> None:
        """Cancelled by a user, or failed because the server is going down."""
        if self._stopping:
            job.finish(JobState.FAILED, INTERRUPTED)
        else:
            job.finish(JobState.CANCELLED)

    def _publish(self, project: Project, workdir: Path, metrics: dict[str, float]) -> str:
        """Rename into place, load it, and only then point ``active`` at it.

        A version the model cannot load never becomes active, so a restart does not trip on it.
        """
        with self._activation:
            name = self._store.publish(project.id, workdir, metrics)
            self._model().load_version(project, self._store.version_dir(project.id, name))
            self._store.set_active(project.id, name)
            self._projects.activate(project.id, name)
        return name

    def _prune(self) -> None:
        """Keep the newest ``HISTORY`` finished jobs of each project, in memory and on disk."""
        by_project: dict[str, list[Job]] = {}
        for job in self.jobs():
            if job.finished:
                by_project.setdefault(job.project_id, []).append(job)
        dropped = [old for finished in by_project.values() for old in finished[HISTORY:]]
        if dropped:
            gone = {old.id for old in dropped}
            self._jobs = {key: job for key, job in self._jobs.items() if key not in gone}
            for old in dropped:
                self._records.forget(old)


def _suffix(job: Job) -> str:
    if job.version:
        return f": version {job.version}"
    return f": {job.error}" if job.error else ""
