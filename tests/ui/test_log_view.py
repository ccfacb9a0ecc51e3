"""The live log view: batched, bounded, coloured by level, searchable, savable."""

from __future__ import annotations

import time

import pytest

from app.services.logs import LogBuffer, LogLine
from app.ui.log_view import LEVEL_COLOURS, LogView

pytestmark = pytest.mark.ui


def lines(n: int, level: str = "INFO", start: int = 0) -> list[LogLine]:
    return [
        LogLine(time.time(), level, f"{level} line {i}", "stdout") for i in range(start, start + n)
    ]


@pytest.fixture
def view(qtbot):
    buffer = LogBuffer(limit=1000)
    view = LogView(buffer, max_lines=100)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_lines_arrive_in_batches_and_the_view_stays_bounded(qtbot, view):
    view.buffer.append(lines(250))
    assert view.text.document().blockCount() <= 1  # nothing drawn until the timer fires
    qtbot.waitUntil(lambda: "INFO line 249" in view.text.toPlainText(), timeout=2000)
    assert view.text.document().blockCount() == 100
    assert view.text.document().firstBlock().text().endswith("INFO line 150")


def test_levels_get_their_colour(qtbot, view):
    view.buffer.append(lines(2) + lines(1, "ERROR") + lines(1, "WARNING"))
    qtbot.waitUntil(lambda: view.text.document().blockCount() == 4, timeout=2000)
    document = view.text.document()
    colours = [
        document.findBlockByNumber(i).begin().fragment().charFormat().foreground().color().name()
        for i in range(4)
    ]
    assert colours == [LEVEL_COLOURS[k].lower() for k in ("INFO", "INFO", "ERROR", "WARNING")]


def test_search_finds_and_pauses_following(qtbot, view):
    view.buffer.append(lines(50))
    qtbot.waitUntil(lambda: view.text.document().blockCount() == 50, timeout=2000)
    view.search_edit.setText("line 7")
    assert view.find_next()
    assert view.text.textCursor().selectedText() == "line 7"
    assert not view.follow_check.isChecked()
    view.search_edit.setText("no such text")
    assert not view.find_next()
    assert view.search_edit.property("notFound") is True


def test_paused_follow_keeps_the_reading_position(qtbot, view):
    view.buffer.append(lines(100))
    qtbot.waitUntil(lambda: view.text.document().blockCount() == 100, timeout=2000)
    bar = view.text.verticalScrollBar()
    view.follow_check.setChecked(False)
    bar.setValue(10)
    view.buffer.append(lines(5, start=100))
    qtbot.waitUntil(lambda: "line 104" in view.text.toPlainText(), timeout=2000)
    assert bar.value() == 10
    view.follow_check.setChecked(True)
    assert bar.value() == bar.maximum()


def test_save_writes_everything_the_buffer_holds(tmp_path, view):
    view.buffer.append(lines(300))
    saved = tmp_path / "server.log"
    assert view.save_to(saved) == 300
    content = saved.read_text().splitlines()
    assert len(content) == 300 and content[-1].endswith("INFO line 299")
