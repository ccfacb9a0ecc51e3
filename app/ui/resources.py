"""Icons and the stylesheet shipped in the repository's resources/ folder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6 import QtGui

RESOURCES_DIR = Path(__file__).resolve().parents[2] / "resources"


@cache
def icon(name: str) -> QtGui.QIcon:
    return QtGui.QIcon(str(RESOURCES_DIR / "icons" / f"{name}.svg"))


def stylesheet() -> str:
    """The QSS with ``@ICONS@`` made absolute: Qt resolves url() against the working directory."""
    text = (RESOURCES_DIR / "style.qss").read_text(encoding="utf-8")
    return text.replace("@ICONS@", (RESOURCES_DIR / "icons").as_posix())
