"""Plain-callback signals: services announce changes, widgets (or the CLI) subscribe.

No Qt here, so the same services drive the panel, the headless CLI and the tests. A callback
that raises is logged and skipped: one broken subscriber must not stop the others or the
service that emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Signal:
    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception:
                log.exception("a subscriber of %r failed", callback)
