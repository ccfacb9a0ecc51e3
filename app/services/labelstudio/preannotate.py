"""Pre-annotate a whole project as a job, not as one giant request.

Label Studio's own "Retrieve predictions" sends every selected task in one synchronous
``/predict`` (proxy timeouts on big projects) and stores one prediction per database commit.
This job pages through the tasks that still need a prediction, sends chunks to the backend's
``/predict`` directly, several at a time, and stores the answers in Label Studio in bulk
(``POST /api/projects/{id}/import/predictions``). Progress goes to a callback; ``cancel()``
stops it at any moment; a second run picks up where the first stopped; tasks the backend could
not predict are listed with the reason and can be retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.pending import PendingTasks, Target, fetch_tasks, project_target


@dataclass(frozen=True)
class JobOptions:
    chunk_size: int = 50  # tasks per /predict request
    concurrency: int = 4  # /predict requests in flight
    page_size: int = 500  # tasks read from Label Studio per page
    store_batch: int = 1000  # most predictions per bulk import into Label Studio
    predict_timeout: float = 300.0

    def __post_init__(self) -> None:
        for name in ("chunk_size", "concurrency", "page_size", "store_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass(frozen=True)
class Progress:
    done: int  # predictions stored in Label Studio by this run
    failed: int
    total: int | None  # tasks that needed a prediction when the run started
    elapsed_s: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.total is None or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done - self.failed) / self.rate)


@dataclass(frozen=True)
class TaskFailure:
    task_id: int
    reason: str


@dataclass
class JobResult:
    stored: int = 0
    failures: list[TaskFailure] = field(default_factory=list)
    cancelled: bool = False
    model_version: str | None = None
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.stored / self.elapsed_s if self.elapsed_s > 0 else 0.0


class PreannotateJob:
    def __init__(
        self,
        studio: Studio,
        project_id: int,
        backend_url: str,
        *,
        options: JobOptions | None = None,
        basic_auth: tuple[str, str] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        self.studio = studio
        self.project_id = project_id
        self.backend_url = backend_url.rstrip("/")
        self.options = options or JobOptions()
        self.auth = httpx.BasicAuth(*basic_auth) if basic_auth else None
        self.on_progress = on_progress
        self.failures: dict[int, str] = {}
        self._cancel = asyncio.Event()
        self._result = JobResult()
        self._total: int | None = None
        self._started = 0.0

    def cancel(self) -> None:
        """Stop now: no new chunks; an import under way completes, queued answers are dropped."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    async def run(self) -> JobResult:
        """Predict every task that has no prediction from the backend's current version."""
        target = await asyncio.to_thread(
            project_target, self.studio, self.project_id, self.backend_url, self.auth
        )
        pending = PendingTasks(self.studio, target, self.options.page_size)
        await self.studio.call(pending.prepare)

        async def source(chunks: asyncio.Queue[list[dict[str, Any]] | None]) -> None:
            while not self.cancelled:
                page = await self.studio.call(pending.next_page)
                if self._total is None:
                    self._total = pending.total
                    self._report()
                if not page:
                    return
                for start in range(0, len(page), self.options.chunk_size):
                    await chunks.put(page[start : start + self.options.chunk_size])

        return await self._pipeline(target, source)

    async def retry_failed(self) -> JobResult:
        """Send only the tasks that failed last time, once more."""
        ids = sorted(self.failures)
        target = await asyncio.to_thread(
            project_target, self.studio, self.project_id, self.backend_url, self.auth
        )
        self.failures.clear()
        self._total = len(ids)

        async def source(chunks: asyncio.Queue[list[dict[str, Any]] | None]) -> None:
            for start in range(0, len(ids), self.options.chunk_size):
                if self.cancelled:
                    return
                batch = ids[start : start + self.options.chunk_size]
                await chunks.put(
                    await self.studio.call(fetch_tasks, self.studio, self.project_id, batch)
                )

        return await self._pipeline(target, source)

    async def _pipeline(self, target: Target, source: Callable[..., Any]) -> JobResult:
        # a fresh event per run: an asyncio.Event belongs to the loop that first waited on it,
        # and the CLI and tests run each job under its own asyncio.run()
        self._cancel = asyncio.Event()
        self._result = JobResult(model_version=target.model_version)
        self._started = time.monotonic()
        chunks: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(
            self.options.concurrency * 2
        )
        # room for two bulk imports: predicting runs ahead of storing, but not unboundedly
        room = max(
            self.options.concurrency, 2 * self.options.store_batch // self.options.chunk_size
        )
        answers: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(room)
        timeout = httpx.Timeout(self.options.predict_timeout, connect=10.0)
        limits = httpx.Limits(max_connections=self.options.concurrency)
        async with httpx.AsyncClient(auth=self.auth, timeout=timeout, limits=limits) as http:
            workers = [
                asyncio.create_task(self._worker(http, target, chunks, answers))
                for _ in range(self.options.concurrency)
            ]
            storer = asyncio.create_task(self._storer(answers))
            feeder = asyncio.create_task(source(chunks))
            cancel_wait = asyncio.create_task(self._cancel.wait())
            try:
                await asyncio.wait([feeder, cancel_wait], return_when=asyncio.FIRST_COMPLETED)
                if feeder.done():
                    feeder.result()  # a failure to read tasks ends the job with its reason
                    for _ in workers:
                        await chunks.put(None)
                    await asyncio.wait(
                        [asyncio.gather(*workers), cancel_wait], return_when=asyncio.FIRST_COMPLETED
                    )
            finally:
                for task in (feeder, cancel_wait, *workers):
                    task.cancel()
                await asyncio.gather(feeder, cancel_wait, *workers, return_exceptions=True)
                if self.cancelled:  # the storer stops by itself; never wait on a full queue
                    with contextlib.suppress(asyncio.QueueFull):
                        answers.put_nowait(None)
                else:
                    await answers.put(None)
                await asyncio.shield(storer)  # an import under way completes, even on cancel
        self._result.cancelled = self.cancelled
        self._result.failures = [TaskFailure(k, v) for k, v in sorted(self.failures.items())]
        self._result.elapsed_s = time.monotonic() - self._started
        self._report()
        return self._result

    async def _worker(
        self,
        http: httpx.AsyncClient,
        target: Target,
        chunks: asyncio.Queue[list[dict[str, Any]] | None],
        answers: asyncio.Queue[list[dict[str, Any]] | None],
    ) -> None:
        while (chunk := await chunks.get()) is not None:
            predictions, failures = await predict_chunk(http, self.backend_url, target, chunk)
            self.failures.update(failures)
            if predictions:
                await answers.put(predictions)
            if failures:
                self._report()

    async def _storer(self, answers: asyncio.Queue[list[dict[str, Any]] | None]) -> None:
        """Store in Label Studio in bulk; whatever arrived while one import ran goes in the next.

        On cancel, the import under way finishes and the answers still queued are dropped.
        """
        finished = False
        while not finished:
            batch = await answers.get()
            if batch is None or self.cancelled:  # unsaved answers are dropped: a rerun redoes them
                return
            while not answers.empty() and len(batch) < self.options.store_batch:
                more = answers.get_nowait()
                if more is None:
                    finished = True
                    break
                batch.extend(more)
            try:
                await self.studio.call(
                    self.studio.client.projects.import_predictions, self.project_id, request=batch
                )
            except StudioError as exc:  # listed with the tasks, and the job goes on
                self.failures.update(
                    {p["task"]: f"Label Studio did not store it: {exc}" for p in batch}
                )
            else:
                self._result.stored += len(batch)
            self._report()

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(
                Progress(
                    done=self._result.stored,
                    failed=len(self.failures),
                    total=self._total,
                    elapsed_s=time.monotonic() - self._started,
                )
            )


async def predict_chunk(
    http: httpx.AsyncClient, backend_url: str, target: Target, tasks: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """One ``/predict`` round trip: predictions ready for import, and failures by task id."""
    body = {
        "tasks": tasks,
        "project": target.uid,
        "label_config": target.label_config,
        "params": {"login": None, "password": None, "context": None},
    }
    ids = [int(t["id"]) for t in tasks]
    try:
        response = await http.post(f"{backend_url}/predict", json=body)
        response.raise_for_status()
        results = response.json()["results"]
    except httpx.HTTPStatusError as exc:
        reason = f"the model server answered {exc.response.status_code}: {exc.response.text[:200]}"
        return [], dict.fromkeys(ids, reason)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return [], dict.fromkeys(
            ids, f"no answer from the model server ({exc or type(exc).__name__})"
        )
    if not isinstance(results, list) or len(results) != len(tasks):
        count = len(results) if isinstance(results, list) else 0
        return [], dict.fromkeys(
            ids, f"the model server sent {count} results for {len(tasks)} tasks"
        )
    predictions: list[dict[str, Any]] = []
    failures: dict[int, str] = {}
    for task_id, item in zip(ids, results, strict=True):
        items = item if isinstance(item, list) else [item]
        good = [
            p
            for p in items
            if isinstance(p, dict) and isinstance(p.get("result"), list) and not p.get("error")
        ]
        if not good:
            failures[task_id] = _failure_reason(items)
            continue
        for p in good:
            version = p.get("model_version") or target.model_version or "undefined"
            predictions.append(
                {
                    "task": task_id,
                    "result": p["result"],
                    "score": p.get("score"),
                    "model_version": version,
                }
            )
    return predictions, failures


def _failure_reason(items: list[Any]) -> str:
    for item in items:
        if isinstance(item, dict) and (item.get("error") or item.get("detail")):
            return str(item.get("error") or item.get("detail"))
    return "the model returned no prediction for this task"
