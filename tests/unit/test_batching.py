"""Dynamic batching: requests that wait together share one model call, each gets its answers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

import pytest

from backends.sdk import label_config
from backends.sdk.batching import InferenceQueue, QueueFull, _Request, take_batch
from backends.sdk.model import Model, Project

pytestmark = pytest.mark.anyio

CONFIG = label_config.parse(
    '<View><Text name="text" value="$text"/>'
    '<Choices name="label" toName="text"><Choice value="a"/></Choices></View>'
)


class CountingModel(Model):
    """Slow enough that requests pile up; remembers the size of every call and fails on 'boom'."""

    def __init__(self):
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def predict(self, tasks, project, context):
        with self.lock:
            self.calls.append(len(tasks))
        time.sleep(0.05)
        if any(t["data"]["text"] == "boom" for t in tasks):
            raise ValueError("cannot read")
        return [{"result": [], "score": 1.0, "echo": t["data"]["text"]} for t in tasks]


def request(project, n=1, context=None, version="v0", loop=None):
    tasks = [{"id": i, "data": {"text": f"t{i}"}} for i in range(n)]
    return _Request(
        tasks, project, context, version, (loop or asyncio.new_event_loop()).create_future()
    )


def project(name="1"):
    return Project(id=name, directory=None, label_config=CONFIG)


def test_take_batch_merges_compatible_requests_up_to_the_task_limit():
    loop = asyncio.new_event_loop()
    one, other = project("1"), project("2")
    waiting = deque(
        [
            request(one, 3, loop=loop),
            request(other, 1, loop=loop),  # another project: never merged
            request(one, 2, loop=loop),
            request(one, 1, context={"result": []}, loop=loop),  # interactive: runs alone
            request(one, 4, loop=loop),  # would pass the limit of 6
        ]
    )
    batch = take_batch(waiting, max_tasks=6)
    assert [len(r.tasks) for r in batch] == [3, 2]
    assert [len(r.tasks) for r in waiting] == [1, 1, 4]
    loop.close()


async def test_concurrent_requests_share_model_calls_and_get_their_own_answers():
    model = CountingModel()
    queue = InferenceQueue(workers=1, limit=32)
    shared = project()

    async def ask(i):
        tasks = [{"id": i, "data": {"text": f"req{i}"}}]
        results, failures = await queue.predict(model, tasks, shared, None, "v0")
        return results[0]["echo"], failures

    answers = await asyncio.gather(*(ask(i) for i in range(10)))
    queue.close()
    assert answers == [(f"req{i}", 0) for i in range(10)]
    assert sum(model.calls) == 10
    assert len(model.calls) < 10  # the nine that waited behind the first went together


async def test_a_bad_task_in_a_merged_batch_fails_only_its_own_request():
    model = CountingModel()
    queue = InferenceQueue(workers=1, limit=32)
    shared = project()
    texts = ["fine", "boom", "also fine", "fine again"]
    calls = [
        queue.predict(model, [{"id": i, "data": {"text": t}}], shared, None, "v0")
        for i, t in enumerate(texts)
    ]
    outcomes = await asyncio.gather(*calls)
    queue.close()
    assert [failures for _, failures in outcomes] == [0, 1, 0, 0]
    [failed] = outcomes[1][0]
    assert failed["result"] == [] and failed["error"].startswith("prediction failed")
    assert outcomes[2][0][0]["echo"] == "also fine"


async def test_the_queue_refuses_beyond_its_limit_with_a_retry_hint():
    model = CountingModel()
    queue = InferenceQueue(workers=1, limit=2)
    shared = project()
    interactive = {"result": [{"value": {}}]}  # never merged, so each one waits on its own
    running = [
        asyncio.ensure_future(
            queue.predict(model, [{"id": i, "data": {"text": "x"}}], shared, interactive, "v0")
        )
        for i in range(3)
    ]
    await asyncio.sleep(0)
    with pytest.raises(QueueFull) as refused:
        await queue.predict(model, [{"id": 9, "data": {"text": "x"}}], shared, None, "v0")
    assert refused.value.retry_after >= 1
    await asyncio.gather(*running)
    queue.close()
