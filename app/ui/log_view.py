"""A live log view that stays responsive while a server floods it.

Lines arriving from the service's LogBuffer only go into a bounded queue; a 50 ms timer
renders the queue in one edit, one insertion per run of same-level lines. The queue holds no
more than the view shows, so a backlog (a hidden tab, a burst) costs one screenful, never more.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

if TYPE_CHECKING:
    from app.services.logs import LogBuffer, LogLine

FLUSH_INTERVAL_MS = 50
DEFAULT_MAX_LINES = 5000

LEVEL_COLOURS = {
    "DEBUG": "#8a8f98",
    "INFO": "#d8dee9",
    "WARNING": "#f0c674",
    "ERROR": "#ff7b72",
    "CRITICAL": "#ff5555",
}
LAUNCHER_COLOUR = "#79c0ff"


def format_line(line: LogLine) -> str:
    """Server lines carry their own timestamp; the launcher's own notes get one here."""
    if line.source == "launcher":
        return f"{time.strftime('%H:%M:%S', time.localtime(line.time))} ▸ {line.text}"
    return line.text


class LogView(QtWidgets.QWidget):
    def __init__(
        self,
        buffer: LogBuffer,
        max_lines: int = DEFAULT_MAX_LINES,
        parent: QtWidgets.QWidget | None = None,
    ):
        super().__init__(parent)
        self.buffer = buffer
        self._pending: deque[LogLine] = deque(maxlen=max_lines)
        self._formats = {level: _char_format(colour) for level, colour in LEVEL_COLOURS.items()}
        self._launcher_format = _char_format(LAUNCHER_COLOUR)

        self.text = QtWidgets.QPlainTextEdit(readOnly=True)
        self.text.setObjectName("logText")
        self.text.setMaximumBlockCount(max_lines)
        self.text.setUndoRedoEnabled(False)
        self.text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))

        self.search_edit = QtWidgets.QLineEdit(placeholderText="Search logs…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.returnPressed.connect(self.find_next)
        self.prev_button = QtWidgets.QToolButton(text="↑", toolTip="Previous match")
        self.prev_button.clicked.connect(self.find_previous)
        self.next_button = QtWidgets.QToolButton(text="↓", toolTip="Next match")
        self.next_button.clicked.connect(self.find_next)
        self.follow_check = QtWidgets.QCheckBox("Follow", checked=True)
        self.follow_check.setToolTip("Keep the newest line in view; untick to read back in peace")
        self.follow_check.toggled.connect(self._on_follow_toggled)
        self.save_button = QtWidgets.QPushButton("Save…", toolTip="Save the whole log to a file")
        self.save_button.clicked.connect(self._ask_and_save)

        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.search_edit, 1)
        for widget in (self.prev_button, self.next_button, self.follow_check, self.save_button):
            bar.addWidget(widget)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.text, 1)

        self._timer = QtCore.QTimer(self, interval=FLUSH_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()
        self._pending.extend(buffer.tail(max_lines))
        buffer.appended.connect(self._on_appended)

    def detach(self) -> None:
        """Stop listening to the buffer (the instance outlives its log tab)."""
        self._timer.stop()
        self.buffer.appended.disconnect(self._on_appended)

    def _on_appended(self, lines: Iterable[LogLine]) -> None:
        self._pending.extend(lines)

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        self.flush()

    def flush(self) -> None:
        """Render what arrived since the last tick; a hidden view waits until it is shown."""
        if not self._pending or not self.isVisible():
            return
        batch = list(self._pending)
        self._pending.clear()
        scrollbar = self.text.verticalScrollBar()
        kept_position = scrollbar.value()
        document = self.text.document()
        cursor = QtGui.QTextCursor(document)
        cursor.movePosition(QtGui.QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        first = document.isEmpty()
        start = 0
        for end in range(1, len(batch) + 1):
            if end < len(batch) and self._format_for(batch[end]) is self._format_for(batch[start]):
                continue
            text = "\n".join(format_line(line) for line in batch[start:end])
            cursor.insertText(text if first else "\n" + text, self._format_for(batch[start]))
            first = False
            start = end
        cursor.endEditBlock()
        if self.follow_check.isChecked():
            scrollbar.setValue(scrollbar.maximum())
        else:
            scrollbar.setValue(min(kept_position, scrollbar.maximum()))

    def _format_for(self, line: LogLine) -> QtGui.QTextCharFormat:
        """Level colours win; the launcher's own calm notes get a colour of their own."""
        if line.source == "launcher" and line.level in ("DEBUG", "INFO"):
            return self._launcher_format
        return self._formats.get(line.level, self._formats["INFO"])

    def _on_follow_toggled(self, follow: bool) -> None:
        if follow:
            self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

    def find_next(self) -> bool:
        return self._find(QtGui.QTextDocument.FindFlag(0))

    def find_previous(self) -> bool:
        return self._find(QtGui.QTextDocument.FindFlag.FindBackward)

    def _find(self, flags: QtGui.QTextDocument.FindFlag) -> bool:
        """Select the next match, wrapping around; reading a match pauses following."""
        needle = self.search_edit.text()
        if not needle:
            return False
        found = self.text.find(needle, flags)
        if not found:
            cursor = self.text.textCursor()
            backward = bool(flags & QtGui.QTextDocument.FindFlag.FindBackward)
            cursor.movePosition(
                QtGui.QTextCursor.MoveOperation.End
                if backward
                else QtGui.QTextCursor.MoveOperation.Start
            )
            self.text.setTextCursor(cursor)
            found = self.text.find(needle, flags)
        if found:
            self.follow_check.setChecked(False)
        self.search_edit.setProperty("notFound", not found)
        self.search_edit.style().polish(self.search_edit)
        return found

    def save_to(self, path: Path) -> int:
        """Write every line the buffer still holds (more than the view shows); returns the count."""
        lines = self.buffer.lines()
        with Path(path).open("w", encoding="utf-8") as out:
            for line in lines:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.time))
                out.write(f"{stamp} {line.level:<8} {line.source:<8} {line.text}\n")
        return len(lines)

    def _ask_and_save(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save log", "server.log")
        if path:
            self.save_to(Path(path))


def _char_format(colour: str) -> QtGui.QTextCharFormat:
    fmt = QtGui.QTextCharFormat()
    fmt.setForeground(QtGui.QColor(colour))
    return fmt
