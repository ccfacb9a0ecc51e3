"""Log lines of a model server: their level read from the text, kept in a bounded buffer.

The panel redraws in batches (one ``appended`` emit per ~50 ms burst, not one per line), so a
chatty server does not flood the UI; the buffer forgets the oldest lines past its limit.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from app.services.events import Signal

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "EXCEPTION": "ERROR"}
# The level is near the start in every format we meet: "INFO:     Started", "2024-… WARNING …".
_LEVEL_RE = re.compile(r"\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|EXCEPTION)\b")
_LEVEL_SEARCH_WIDTH = 60
_ERROR_START_RE = re.compile(r"^(Traceback \(most recent call last\)|[\w.]+(Error|Exception)\b)")


@dataclass(frozen=True)
class LogLine:
    time: float
    level: str
    text: str
    source: str  # "stdout" | "stderr" | "launcher"


def level_of(text: str, previous: str | None = None) -> str:
    """The level a line announces; tracebacks are errors, indented lines continue the last one."""
    match = _LEVEL_RE.search(text[:_LEVEL_SEARCH_WIDTH])
    if match:
        word = match.group(1)
        return _ALIASES.get(word, word)
    if _ERROR_START_RE.match(text):
        return "ERROR"
    if previous and text[:1].isspace():
        return previous
    return "INFO"


def message_of(text: str) -> str:
    """The line without its timestamp and level prefix ("... ERROR boom" -> "boom")."""
    match = _LEVEL_RE.search(text[:_LEVEL_SEARCH_WIDTH])
    if not match:
        return text.strip()
    return text[match.end() :].lstrip(":").strip() or text.strip()


class LogBuffer:
    def __init__(self, limit: int = 20_000):
        self._lines: deque[LogLine] = deque(maxlen=limit)
        self.appended = Signal()  # emits list[LogLine]

    def append(self, lines: Iterable[LogLine]) -> None:
        batch = list(lines)
        if not batch:
            return
        self._lines.extend(batch)
        self.appended.emit(batch)

    def lines(self) -> list[LogLine]:
        return list(self._lines)

    def tail(self, n: int) -> list[LogLine]:
        if n <= 0:
            return []
        return list(self._lines)[-n:]

    def __len__(self) -> int:
        return len(self._lines)


class LineParser:
    """Turns raw lines of one stream into LogLines, remembering the level for continuations."""

    def __init__(self, source: str):
        self.source = source
        self._previous: str | None = None

    def parse(self, raw: str) -> LogLine:
        text = raw.rstrip("\r\n")
        level = level_of(text, self._previous)
        self._previous = level
        return LogLine(time=time.time(), level=level, text=text, source=self.source)


class BatchedWriter:
    """Collects lines as they arrive and hands them to the buffer once per ``interval``."""

    def __init__(self, buffer: LogBuffer, interval: float = 0.05):
        self.buffer = buffer
        self.interval = interval
        self._pending: list[LogLine] = []
        self._timer: asyncio.TimerHandle | None = None

    def write(self, line: LogLine) -> None:
        self._pending.append(line)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        self.buffer.append(pending)
