"""Start the panel: a QApplication, the qasync loop, the window, then the services.

The window frame is shown before the services are imported (they cost more than Qt does), so
the panel appears at once and fills in a moment later; then, in the background, it finds the
Docker containers an earlier session left running and watches them again.

``--screenshot FILE.png`` renders the window offscreen with the first model chosen, saves it
and exits, so the README's picture is made by the code it shows.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from PySide6 import QtWidgets

from app.ui import resources
from app.ui.async_bridge import run_app, spawn
from app.ui.main_window import MainWindow

SCREENSHOT_SETTLE_SECONDS = 0.3
LAUNCH_TIMEOUT_SECONDS = 60


def create_application() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("ML Launcher")
    app.setOrganizationName("ml-launcher")
    app.setWindowIcon(resources.icon("app"))
    app.setStyleSheet(resources.stylesheet())
    app.setQuitOnLastWindowClosed(False)  # the window closes after its servers stop, then we quit
    return app


def populate(window: MainWindow) -> None:
    """Import the services and give the window its workspace."""
    from app.services.devices import list_devices
    from app.services.registry import InstanceRegistry
    from app.services.settings import Settings
    from backends.sdk.catalog import load_catalog

    window.populate(InstanceRegistry(), load_catalog(), list_devices(), Settings())


def build_window(**options) -> MainWindow:
    window = MainWindow(**options)
    populate(window)
    return window


async def _show(window: MainWindow) -> None:
    shown = asyncio.Event()
    window.shown.connect(shown.set)
    window.show()
    await shown.wait()


async def _run(screenshot: Path | None, launch: tuple[str, ...]) -> int:
    window = MainWindow()
    await _show(window)
    populate(window)
    if screenshot is not None:
        try:
            return await _screenshot(window, screenshot, launch)
        finally:
            await window.workspace.registry.stop_all()
    spawn(window.workspace.reattach(), "re-attaching to running containers")
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    await closed.wait()
    return 0


async def _launch_and_wait(window: MainWindow, model: str) -> None:
    """Launch ``model`` with its remembered (or default) values and wait until it answers."""
    workspace = window.workspace
    workspace.catalog.select(model)
    spec = workspace.model_panel.current_spec()
    if spec is None:
        raise RuntimeError(f"{model}: {workspace.model_panel.problem()}")
    instance = await workspace.launch(spec)
    if instance is None:
        raise RuntimeError(f"{model}: {workspace.model_panel.problem_label.text()}")
    card = workspace.instances.card(instance)
    async with asyncio.timeout(LAUNCH_TIMEOUT_SECONDS):
        while instance.state.value != "ready":
            await asyncio.sleep(0.1)
    await card.send_test_request()


async def _screenshot(window: MainWindow, path: Path, launch: tuple[str, ...]) -> int:
    for model in launch:
        await _launch_and_wait(window, model)
    names = window.workspace.catalog.visible_names()
    if names:
        window.workspace.catalog.select(launch[0] if launch else names[0])
    await asyncio.sleep(SCREENSHOT_SETTLE_SECONDS)  # let layouts and delayed shows settle
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        print(f"error: could not write {path}", file=sys.stderr)
        return 1
    print(f"saved {path}")
    return 0


def run_gui(screenshot: str | None = None, launch: tuple[str, ...] = ()) -> int:
    """Open the panel; with ``screenshot``, save the window there and exit instead.

    ``launch`` (screenshot only) names models to start first, each waited for and tested, so
    the picture shows live servers and their logs (scripts/screenshot.sh uses it).
    """
    if screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = create_application()
    return run_app(app, lambda: _run(Path(screenshot) if screenshot else None, tuple(launch)))
