"""A model server's training API, for the panel's Training view and the ``train`` command.

Jobs (with their metric history), train now, cancel, versions and rollback, over plain HTTP;
``JobPoller`` re-reads ``GET /jobs`` on a timer and announces what changed through a plain
:class:`~app.services.events.Signal`, so widgets and the CLI subscribe the same way. Qt-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from app.services.events import Signal

log = logging.getLogger(__name__)

FINISHED = frozenset({"done", "failed", "skipped", "cancelled"})


class TrainingError(RuntimeError):
    """The server refused or could not be reached; the message is a sentence to show."""


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    step: int


@dataclass(frozen=True)
class Job:
    id: str
    project: str
    reason: str
    state: str  # queued | running | done | failed | skipped | cancelled
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    step: int | None = None
    total: int | None = None
    history: tuple[MetricPoint, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    version: str | None = None
    error: str | None = None
    cancelling: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        progress = data.get("progress") or {}
        return cls(
            id=str(data["id"]),
            project=str(data.get("project") or ""),
            reason=str(data.get("reason") or ""),
            state=str(data["state"]),
            created_at=_time(data.get("created_at")),
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            step=progress.get("step"),
            total=progress.get("total"),
            history=tuple(
                MetricPoint(str(p["name"]), float(p["value"]), int(p["step"]))
                for p in data.get("history") or []
            ),
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
            version=data.get("version"),
            error=data.get("error"),
            cancelling=bool(data.get("cancelling")),
        )

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def duration(self, now: datetime | None = None) -> float | None:
        """Seconds it ran (so far, for a running job)."""
        if self.started_at is None:
            return None
        end = self.finished_at or now or datetime.now(self.started_at.tzinfo)
        return max(0.0, (end - self.started_at).total_seconds())

    def metric_names(self) -> list[str]:
        return list(dict.fromkeys(point.name for point in self.history))

    def series(self, name: str) -> tuple[list[int], list[float]]:
        points = [p for p in self.history if p.name == name]
        return [p.step for p in points], [p.value for p in points]

    def final_metrics(self) -> dict[str, float]:
        """What the run ended with: the model's own summary, else each metric's last value."""
        if self.metrics:
            return dict(self.metrics)
        return {point.name: point.value for point in self.history}

    def to_csv(self) -> str:
        """Every metric point, one row each: what a spreadsheet or pandas reads directly."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["job", "version", "metric", "step", "value"])
        for point in self.history:
            writer.writerow([self.id, self.version or "", point.name, point.step, point.value])
        return out.getvalue()


@dataclass(frozen=True)
class Version:
    name: str
    active: bool
    created_at: str | None
    metrics: dict[str, float]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Version:
        metrics = {k: float(v) for k, v in (data.get("metrics") or {}).items()}
        return cls(str(data["version"]), bool(data.get("active")), data.get("created_at"), metrics)


class TrainingClient:
    """One model server. ``transport`` lets tests reach an app in-process (ASGI)."""

    def __init__(
        self,
        url: str,
        basic_auth: tuple[str, str] | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url,
            auth=httpx.BasicAuth(*basic_auth) if basic_auth else None,
            timeout=timeout,
            transport=transport,
        )

    async def jobs(self, project: str | None = None) -> list[Job]:
        """Newest first."""
        body = await self._call("GET", "/jobs", params=_project(project))
        return [Job.from_json(item) for item in body.get("jobs", [])]

    async def job(self, job_id: str) -> Job:
        return Job.from_json(await self._call("GET", f"/jobs/{job_id}"))

    async def start(self, project: str | None = None) -> tuple[Job, bool]:
        """Train now; the job, and whether it joined one already waiting."""
        body = await self._call("POST", "/jobs", params=_project(project))
        return Job.from_json(body["job"]), bool(body.get("joined"))

    async def cancel(self, job_id: str) -> Job:
        return Job.from_json(await self._call("POST", f"/jobs/{job_id}/cancel"))

    async def versions(self) -> dict[str, list[Version]]:
        """Per project, oldest first."""
        body = await self._call("GET", "/versions")
        return {
            project: [Version.from_json(info) for info in infos]
            for project, infos in (body.get("projects") or {}).items()
        }

    async def activate(self, name: str, project: str | None = None) -> None:
        await self._call("POST", f"/versions/{name}/activate", params=_project(project))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TrainingError(f"Cannot reach the model server at {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 404 and path == "/jobs":
            raise TrainingError(f"{self.url} has no training API (not an ML Launcher server).")
        if response.status_code >= 400:
            reason = body.get("error") if isinstance(body, dict) else None
            raise TrainingError(reason or f"The model server answered {response.status_code}.")
        return body if isinstance(body, dict) else {}


class JobPoller:
    """Re-reads the job list every ``interval`` seconds while running.

    ``changed(jobs)`` fires when the list differs from the last one (new job, new metric point,
    new state); ``failed(message)`` when a poll fails (once per outage, until one succeeds).
    """

    def __init__(self, client: TrainingClient, project: str | None = None, interval: float = 1.0):
        self.client = client
        self.project = project
        self.interval = interval
        self.jobs: list[Job] = []
        self.changed = Signal()
        self.failed = Signal()
        self._task: asyncio.Task | None = None
        self._failing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Call on the event loop; polling begins at once."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def poll_once(self) -> list[Job]:
        try:
            jobs = await self.client.jobs(self.project)
        except TrainingError as exc:
            if not self._failing:
                self._failing = True
                self.failed.emit(str(exc))
            return self.jobs
        self._failing = False
        if jobs != self.jobs:
            self.jobs = jobs
            self.changed.emit(jobs)
        return jobs

    async def _loop(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.interval)


def _project(project: str | None) -> dict[str, str] | None:
    return {"project": project} if project else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
