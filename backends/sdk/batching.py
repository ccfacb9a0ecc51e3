"""Running model code off the event loop: a bounded inference queue and per-task error isolation.

Label Studio sends a whole selection in one ``/predict`` and gives up after 100 s, so the
server must (a) keep answering ``/health`` while a model works, (b) refuse extra work early
with a ``Retry-After`` instead of piling it up, and (c) never lose a batch to one bad task.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from backends.sdk.model import Model, Project

log = logging.getLogger("ml_launcher.server")

T = TypeVar("T")


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"inference queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Request:
    tasks: list[dict[str, Any]]
    project: Project
    context: dict[str, Any] | None
    version: str
    done: asyncio.Future = field(repr=False)

    def joins(self, other: _Request) -> bool:
        """Batch requests only when the model would see them as one call anyway."""
        return (
            self.context is None
            and other.context is None
            and self.project is other.project
            and self.version == other.version
        )


class InferenceQueue:
    """``workers`` threads run model calls; at most ``limit`` more requests may wait for them.

    Requests that pile up while the workers are busy are merged into one ``predict`` call
    (up to ``max_batch_tasks`` tasks), so a burst of small requests costs one model call
    instead of many; interactive requests (with a context) always run alone.
    """

    def __init__(self, workers: int = 1, limit: int = 16, max_batch_tasks: int = 64):
        self.workers = workers
        self.limit = limit
        self.max_batch_tasks = max_batch_tasks
        self.busy = 0  # touched only from the event loop
        self._waiting: deque[_Request] = deque()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="inference")
        self._seconds_per_call = 1.0  # moving average, only used to suggest Retry-After

    @property
    def depth(self) -> int:
        """Requests waiting for a free worker."""
        return len(self._waiting)

    async def predict(
        self,
        model: Model,
        tasks: list[dict[str, Any]],
        project: Project,
        context: dict[str, Any] | None,
        version: str,
    ) -> tuple[list[Any], int]:
        """``predict_isolated`` for these tasks, possibly merged with other waiting requests."""
        if len(self._waiting) >= self.limit:
            waits = (self.depth + 1) * self._seconds_per_call / self.workers
            raise QueueFull(max(1, math.ceil(waits)))
        loop = asyncio.get_running_loop()
        request = _Request(tasks, project, context, version, loop.create_future())
        self._waiting.append(request)
        self._dispatch(model)
        return await request.done

    def _dispatch(self, model: Model) -> None:
        while self.busy < self.workers and self._waiting:
            batch = take_batch(self._waiting, self.max_batch_tasks)
            self.busy += 1
            asyncio.get_running_loop().create_task(self._run_batch(model, batch))

    async def _run_batch(self, model: Model, batch: list[_Request]) -> None:
        loop = asyncio.get_running_loop()
        first = batch[0]
        tasks = [task for request in batch for task in request.tasks]
        started = loop.time()
        args = (model, tasks, first.project, first.context, first.version)
        try:
            results, failed = await loop.run_in_executor(self._executor, predict_isolated, *args)
        except Exception as exc:  # predict_isolated contains model errors; this guards our bugs
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(exc)
        else:
            offset = 0
            for request in batch:
                end = offset + len(request.tasks)
                failures = sum(1 for i in failed if offset <= i < end)
                if not request.done.done():
                    request.done.set_result((results[offset:end], failures))
                offset = end
        finally:
            self.busy -= 1
            self._seconds_per_call = 0.8 * self._seconds_per_call + 0.2 * (loop.time() - started)
            self._dispatch(model)

    async def run_unqueued(self, fn: Callable[..., T], *args: Any) -> T:
        """Model work that must not be refused (loading) but must not overlap inference either."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def take_batch(waiting: deque[_Request], max_tasks: int) -> list[_Request]:
    """The first waiting request plus every later one that can share its model call."""
    first = waiting.popleft()
    batch, size = [first], len(first.tasks)
    for request in list(waiting):
        if size + len(request.tasks) > max_tasks:
            break
        if first.joins(request):
            waiting.remove(request)
            batch.append(request)
            size += len(request.tasks)
    return batch


def predict_isolated(
    model: Model,
    tasks: list[dict[str, Any]],
    project: Project,
    context: dict[str, Any] | None,
    version: str,
) -> tuple[list[dict[str, Any] | list[dict[str, Any]]], list[int]]:
    """One normalised prediction per task, in order, and the positions of the tasks that failed.

    The whole batch goes to the model first (fast path); if that raises or answers with the
    wrong shape, each task is retried alone so only the bad ones come back empty.
    """
    try:
        return _checked(model.predict(tasks, project, context), len(tasks), version), []
    except Exception as exc:
        if len(tasks) == 1:
            return [failed_prediction(version, _log_failure(tasks[0]))], [0]
        log.warning("batch of %d tasks failed (%s); retrying one task at a time", len(tasks), exc)
    results, failed = [], []
    for position, task in enumerate(tasks):
        try:
            results += _checked(model.predict([task], project, context), 1, version)
        except Exception:
            results.append(failed_prediction(version, _log_failure(task)))
            failed.append(position)
    return results, failed


def _log_failure(task: dict[str, Any]) -> str:
    """Called inside ``except``: the traceback goes to the log under an id, never to the client."""
    error_id = uuid.uuid4().hex
    log.exception("prediction failed for task %s (error_id=%s)", task.get("id"), error_id)
    return error_id


def _checked(answers: Any, expected: int, version: str) -> list[Any]:
    if not isinstance(answers, list) or len(answers) != expected:
        got = len(answers) if isinstance(answers, list) else type(answers).__name__
        raise TypeError(f"predict returned {got} answers for {expected} tasks")
    return [_normalise(a, version) for a in answers]


def failed_prediction(version: str, error_id: str) -> dict[str, Any]:
    """Empty for Label Studio (it ignores the extra key), but a client can tell it from "none"."""
    return {**empty_prediction(version), "error": f"prediction failed (error_id={error_id})"}


def empty_prediction(version: str) -> dict[str, Any]:
    return {"result": [], "score": 0, "model_version": version}


def _normalise(answer: Any, version: str) -> dict[str, Any] | list[dict[str, Any]]:
    """Every prediction carries ``result`` and ``model_version``; ``None`` means nothing found."""
    if answer is None:
        return empty_prediction(version)
    if isinstance(answer, list):
        return [_one(a, version) for a in answer]
    return _one(answer, version)


def _one(answer: Any, version: str) -> dict[str, Any]:
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), list):
        raise TypeError(f"a prediction must be a dict with a 'result' list, got {answer!r:.200}")
    return {**answer, "model_version": answer.get("model_version") or version}
