"""Running scenarios on a fresh event loop, and waiting for what a user would wait for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def run(coroutine, timeout: float = 180):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def until(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
