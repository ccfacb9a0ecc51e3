"""The one place where asyncio meets Qt (qasync); every other module just spawns coroutines.

Services are plain asyncio, so the panel runs them on a qasync loop that is Qt's own event
loop: a service callback fires on the GUI thread and may touch widgets directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

# The binding first: qasync uses whichever binding is already imported.
from PySide6 import QtCore, QtWidgets

# isort: split
import qasync

log = logging.getLogger(__name__)

_tasks: set[asyncio.Task] = set()


class TaskErrors(QtCore.QObject):
    """Announces failed background tasks; a Qt signal, so a closed window stops listening."""

    failed = QtCore.Signal(str, str)  # what was being done, the error's message


task_errors = TaskErrors()


def spawn(coro: Coroutine[Any, Any, Any], what: str = "") -> asyncio.Task:
    """Run a coroutine from a slot; the task is kept alive and its failure is reported."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(lambda t: _finished(t, what or getattr(coro, "__name__", "task")))
    return task


def _finished(task: asyncio.Task, what: str) -> None:
    _tasks.discard(task)
    if task.cancelled() or task.exception() is None:
        return
    exc = task.exception()
    log.error("%s failed: %s", what, exc, exc_info=exc)
    task_errors.failed.emit(what, str(exc) or type(exc).__name__)


def run_app(app: QtWidgets.QApplication, main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``main()`` on a qasync loop that drives the application until it returns."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return loop.run_until_complete(main())
    finally:
        asyncio.set_event_loop(None)


def attach_running_loop(app: QtWidgets.QApplication) -> asyncio.AbstractEventLoop:
    """A loop for code that spins Qt itself (pytest-qt, benchmarks): Qt events run its tasks."""
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    return loop


def detach_running_loop(app: QtWidgets.QApplication, loop: asyncio.AbstractEventLoop) -> None:
    """Undo :func:`attach_running_loop` without ``loop.stop()``.

    ``stop()`` outside ``exec()`` leaves Qt's quit flag set, and every later nested event loop
    (``qtbot.waitUntil``) would return at once.
    """
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    end = loop.time() + 2
    while any(not t.done() for t in pending) and loop.time() < end:
        app.processEvents()
    loop._QEventLoop__is_running = False
    asyncio.events._set_running_loop(None)
    with contextlib.suppress(RuntimeError, TypeError):  # not connected on some qasync paths
        app.aboutToQuit.disconnect(loop._after_run_forever)
    loop.close()
    asyncio.set_event_loop(None)
