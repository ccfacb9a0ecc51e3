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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from backends.sdk.model import Model, Project

log = logging.getLogger("ml_launcher.server")

T = TypeVar("T")


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"inference queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


class InferenceQueue:
    """``workers`` threads run model calls; at most ``limit`` more calls may wait for them."""

    def __init__(self, workers: int = 1, limit: int = 16):
        self.workers = workers
        self.limit = limit
        self.pending = 0  # touched only from the event loop
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="inference")
        self._seconds_per_call = 1.0  # moving average, only used to suggest Retry-After

    @property
    def depth(self) -> int:
        """Calls waiting for a free worker."""
        return max(0, self.pending - self.workers)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self.pending >= self.workers + self.limit:
            waits = (self.depth + 1) * self._seconds_per_call / self.workers
            raise QueueFull(max(1, math.ceil(waits)))
        self.pending += 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        finally:
            self.pending -= 1
            self._seconds_per_call = 0.8 * self._seconds_per_call + 0.2 * (loop.time() - started)

    async def run_unqueued(self, fn: Callable[..., T], *args: Any) -> T:
        """Model work that must not be refused (loading) but must not overlap inference either."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def predict_isolated(
    model: Model,
    tasks: list[dict[str, Any]],
    project: Project,
    context: dict[str, Any] | None,
    version: str,
) -> tuple[list[dict[str, Any] | list[dict[str, Any]]], int]:
    """One normalised prediction per task, in order, and how many tasks failed.

    The whole batch goes to the model first (fast path); if that raises or answers with the
    wrong shape, each task is retried alone so only the bad ones come back empty.
    """
    try:
        return _checked(model.predict(tasks, project, context), len(tasks), version), 0
    except Exception as exc:
        if len(tasks) == 1:
            _log_failure(tasks[0])
            return [empty_prediction(version)], 1
        log.warning("batch of %d tasks failed (%s); retrying one task at a time", len(tasks), exc)
    results, failures = [], 0
    for task in tasks:
        try:
            results += _checked(model.predict([task], project, context), 1, version)
        except Exception:
            _log_failure(task)
            results.append(empty_prediction(version))
            failures += 1
    return results, failures


def _log_failure(task: dict[str, Any]) -> None:
    """Called inside ``except``: the traceback goes to the log under an id, never to the client."""
    error_id = uuid.uuid4().hex
    log.exception("prediction failed for task %s (error_id=%s)", task.get("id"), error_id)


def _checked(answers: Any, expected: int, version: str) -> list[Any]:
    if not isinstance(answers, list) or len(answers) != expected:
        got = len(answers) if isinstance(answers, list) else type(answers).__name__
        raise TypeError(f"predict returned {got} answers for {expected} tasks")
    return [_normalise(a, version) for a in answers]


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
