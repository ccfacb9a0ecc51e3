"""How late the panel's event loop runs under a log flood, and how fast its window appears.

Lag: a 10 ms precise QTimer notes how late each tick fires (that is how long the GUI thread was
busy). Measured on the real main window, first idle (nothing running), then with three real
``interactive_substring_matching`` servers launched through the panel (so their pollers hit
/health, /metrics and /jobs every second) while each server's LogBuffer is also fed 5,000
lines/s. Those lines come from a generator process per server, not from the servers: the
generator's stdout is read by the local runtime's own pump (LocalProcess.pump_output ->
LineParser -> BatchedWriter -> LogBuffer), so reading, parsing and batching are paid on the
GUI thread exactly as for a real server. One log tab is in view, as a user would have it.
Printed: p50/p99/max lag idle and flooded, their ratio, and the line rate that arrived.

Start-up: spawn-to-first-showEvent of the panel (the same QApplication and window that
``main.py`` builds) against a bare QMainWindow, each in a fresh interpreter, alternating, in
the same run; printed as medians and their ratio. The panel shows its frame before importing
the services, so the time until the catalog and form are filled is printed too.

    python bench/ui_responsiveness.py           # 10 s per phase, 7 start-ups each
    python bench/ui_responsiveness.py --quick   # CI smoke: a few seconds, checks it works
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets  # noqa: E402

MODEL = "interactive_substring_matching"
SERVERS = 3
LINES_PER_SECOND = 5000
PROBE_MS = 10
AIM_P99_MS = 50.0
AIM_START_RATIO = 2.0

GENERATOR = r"""
import sys, time
rate = int(sys.argv[1])
levels = ["INFO"] * 47 + ["WARNING"] * 2 + ["ERROR"]
start, sent = time.monotonic(), 0
while True:
    due = int((time.monotonic() - start) * rate)
    if due > sent:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        sys.stdout.write("".join(
            f"{stamp} {levels[n % 50]} POST /predict 200 1.{n % 10} ms request {n}\n"
            for n in range(sent, due)))
        sys.stdout.flush()
        sent = due
    time.sleep(0.005)
"""


class LagProbe:
    """A precise timer that records how late each of its ticks fires, in milliseconds."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._timer = QtCore.QTimer(interval=PROBE_MS)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0

    def start(self) -> None:
        self.lags.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return list(self.lags)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lags.append(max(0.0, (now - self._last) * 1000 - PROBE_MS))
        self._last = now


def summary(lags: list[float]) -> dict[str, float]:
    ordered = sorted(lags) or [0.0]
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": pick(0.50), "p99": pick(0.99), "max": ordered[-1], "ticks": len(lags)}


async def flood(instance, stop: asyncio.Event) -> int:
    """Feed one instance's LogBuffer from a generator process through the runtime's pump."""
    from app.services.local_runtime import LocalProcess
    from app.services.logs import BatchedWriter, LineParser

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", GENERATOR, str(LINES_PER_SECOND),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    parser, writer = LineParser("stdout"), BatchedWriter(instance.logs)
    count = 0

    def on_line(_source: str, raw: str) -> None:
        nonlocal count
        count += 1
        writer.write(parser.parse(raw))

    pump = asyncio.ensure_future(LocalProcess(process).pump_output(on_line))
    await stop.wait()
    process.kill()
    await process.wait()
    pump.cancel()
    writer.flush()
    return count


async def measure_lag(seconds: float, servers: int) -> dict[str, dict[str, float]]:
    from app.ui.application import _show, build_window

    window = build_window(confirm_quit=lambda *_: True)
    await _show(window)
    workspace = window.workspace
    workspace.catalog.select(MODEL)
    probe = LagProbe()
    probe.start()
    await asyncio.sleep(seconds)
    idle = summary(probe.stop())

    instances = []
    for _ in range(servers):
        instances.append(await workspace.launch(workspace.model_panel.current_spec()))
    async with asyncio.timeout(60):
        while any(i.state.value != "ready" for i in instances):
            await asyncio.sleep(0.1)
    stop = asyncio.Event()
    floods = [asyncio.ensure_future(flood(i, stop)) for i in instances]
    await asyncio.sleep(0.5)  # generators up and streaming
    probe.start()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    flooded = summary(probe.stop())
    elapsed = time.perf_counter() - started
    stop.set()
    lines = sum(await asyncio.gather(*floods))
    flooded["lines_per_s"] = lines / (elapsed + 0.5)
    await workspace.registry.stop_all()
    window.close()
    return {"idle": idle, "flooded": flooded}


def child_start(variant: str, spawned_at: float) -> int:
    """In a fresh interpreter: show the window, print seconds since spawn (shown, filled)."""
    if variant == "bare":
        app = QtWidgets.QApplication(sys.argv[:1])
        window = BareWindow(spawned_at)
        window.show()
        app.exec()
        return 0
    from app.ui.application import _show, create_application, populate
    from app.ui.async_bridge import run_app
    from app.ui.main_window import MainWindow

    async def main() -> int:
        window = MainWindow()
        await _show(window)  # what main.py does: frame first, then the services
        shown = time.time() - spawned_at
        populate(window)
        await asyncio.sleep(0)
        print(shown, time.time() - spawned_at, flush=True)
        return 0

    return run_app(create_application(), main)


class BareWindow(QtWidgets.QMainWindow):
    def __init__(self, spawned_at: float):
        super().__init__()
        self.spawned_at = spawned_at

    def showEvent(self, event) -> None:
        super().showEvent(event)
        shown = time.time() - self.spawned_at
        print(shown, shown, flush=True)
        QtCore.QTimer.singleShot(0, QtWidgets.QApplication.quit)


def measure_start(runs: int) -> dict[str, tuple[float, float]]:
    """Median (shown, filled) seconds per variant; a bare window is filled when shown."""
    times: dict[str, list[tuple[float, float]]] = {"bare": [], "app": []}
    with tempfile.TemporaryDirectory() as config:
        env = {**os.environ, "ML_LAUNCHER_CONFIG_DIR": config}
        for _ in range(runs):
            for variant in ("bare", "app"):
                spawned = time.time()
                out = subprocess.run(
                    [sys.executable, __file__, "--child-start", variant, repr(spawned)],
                    env=env, capture_output=True, text=True, timeout=60, check=True,
                )  # fmt: skip
                shown, filled = out.stdout.split()[-2:]
                times[variant].append((float(shown), float(filled)))
    return {
        variant: (
            statistics.median(s for s, _ in values),
            statistics.median(f for _, f in values),
        )
        for variant, values in times.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke: a few seconds")
    parser.add_argument("--child-start", nargs=2, metavar=("VARIANT", "SPAWNED_AT"))
    args = parser.parse_args()
    if args.child_start:
        return child_start(args.child_start[0], float(args.child_start[1]))

    seconds, runs = (1.0, 1) if args.quick else (10.0, 7)
    start = measure_start(runs)
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["ML_LAUNCHER_CONFIG_DIR"] = str(Path(scratch) / "config")
        os.environ["ML_LAUNCHER_DATA_DIR"] = str(Path(scratch) / "data")
        from app.ui.application import create_application
        from app.ui.async_bridge import run_app

        lag = run_app(create_application(), lambda: measure_lag(seconds, SERVERS))

    idle, flooded = lag["idle"], lag["flooded"]
    print(f"event-loop lag, {PROBE_MS} ms probe, {seconds:g} s per phase (ms):")
    for name, row in (("idle", idle), (f"{SERVERS} servers flooding", flooded)):
        print(
            f"  {name:<22} p50 {row['p50']:6.2f}  p99 {row['p99']:6.2f}  max {row['max']:7.2f}"
            f"  ({row['ticks']} ticks)"
        )
    print(f"  log lines arrived: {flooded['lines_per_s']:,.0f}/s in all")
    ratio = flooded["p99"] / max(idle["p99"], 0.1)
    print(f"  p99 flooded / idle: {ratio:.1f}x   aim p99 < {AIM_P99_MS:g} ms: "
          f"{'met' if flooded['p99'] < AIM_P99_MS else 'MISSED'}")  # fmt: skip
    (bare, _), (shown, filled) = start["bare"], start["app"]
    print(f"start-up, spawn to first window shown, median of {runs} (s):")
    print(
        f"  bare QMainWindow {bare:.2f}   ML Launcher {shown:.2f}   ratio {shown / bare:.2f}x   "
        f"aim < {AIM_START_RATIO:g}x: {'met' if shown / bare < AIM_START_RATIO else 'MISSED'}"
    )
    print(f"  ML Launcher with catalog, services and form filled: {filled:.2f} "
          f"({filled / bare:.2f}x the bare window)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
