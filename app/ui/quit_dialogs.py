"""What the window asks before it quits while servers are running.

Callers take these as injectable callables (MainWindow(confirm_quit=..., stop_studio=...)),
so tests answer without a modal box.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from PySide6 import QtWidgets

if TYPE_CHECKING:
    from app.services.instances import Instance


class QuitChoice(Enum):
    """The quit dialog's answer; a plain yes/no works too (True stops everything)."""

    STAY = False
    STOP_ALL = True
    LEAVE_CONTAINERS = "leave containers"


QuitQuestion = Callable[[QtWidgets.QWidget, list["Instance"]], "QuitChoice | bool"]


def ask_to_stop_studio(parent: QtWidgets.QWidget) -> bool:
    answer = QtWidgets.QMessageBox.question(
        parent,
        "Quit ML Launcher",
        "The local Label Studio started from this app is still running.\n\n"
        "Stop it too? (No leaves it running for your annotators.)",
        QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
        QtWidgets.QMessageBox.StandardButton.No,
    )
    return answer == QtWidgets.QMessageBox.StandardButton.Yes


def ask_to_stop(parent: QtWidgets.QWidget, running: list[Instance]) -> QuitChoice:
    """Quitting stops local servers; containers may keep serving Label Studio meanwhile."""
    containers = [i for i in running if i.spec.runtime == "docker"]
    names = "\n".join(
        f"• {i.manifest.title} at {i.url}{' (Docker)' * (i.spec.runtime == 'docker')}"
        for i in running
    )
    box = QtWidgets.QMessageBox(parent)
    box.setIcon(QtWidgets.QMessageBox.Icon.Question)
    box.setWindowTitle("Quit ML Launcher")
    text = f"{len(running)} server{'s' * (len(running) != 1)} still running:\n{names}\n\n"
    role = QtWidgets.QMessageBox.ButtonRole
    stop = box.addButton("Stop all and quit", role.AcceptRole)
    leave = None
    if containers:
        text += (
            "Local servers stop when the launcher quits. Docker containers can keep serving; "
            "the launcher finds them again when it next starts."
        )
        leave = box.addButton("Leave containers running", role.AcceptRole)
    else:
        text += "Quitting stops them. Quit anyway?"
    box.setText(text)
    cancel = box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    if clicked is stop:
        return QuitChoice.STOP_ALL
    if leave is not None and clicked is leave:
        return QuitChoice.LEAVE_CONTAINERS
    return QuitChoice.STAY
