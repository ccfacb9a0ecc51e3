"""The seam between an Instance and where its server runs (a local process or a container).

An Instance only talks to these two protocols, so its state machine, pollers and failure
handling are the same whichever runtime started the server.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import psutil

from app.services.spec import LaunchPlan, LaunchRefused

OnLine = Callable[[str, str], None]  # (source "stdout"|"stderr", raw text)


@dataclass(frozen=True)
class ResourceUsage:
    cpu_percent: float
    memory_bytes: int
    pids: tuple[int, ...]  # host PIDs of the server and its helpers (for per-process GPU memory)


class ProcessTreeUsage:
    """CPU and resident memory of a process and its children, summed, read again and again.

    ``cpu_percent`` compares with the previous call on the same ``psutil.Process`` object, so
    the objects are kept between readings.
    """

    def __init__(self) -> None:
        self._watched: dict[int, psutil.Process] = {}

    def read(self, pid: int | None) -> ResourceUsage | None:
        try:
            root = psutil.Process(pid) if pid else None
            tree = [root, *root.children(recursive=True)] if root else []
        except psutil.Error:
            tree = []
        cpu, memory, alive = 0.0, 0, {}
        for proc in tree:
            proc = self._watched.get(proc.pid, proc)
            try:
                cpu += proc.cpu_percent(None)
                memory += proc.memory_info().rss
            except psutil.Error:
                continue
            alive[proc.pid] = proc
        self._watched = alive
        return ResourceUsage(cpu, memory, tuple(alive)) if alive else None


class RunningServer(Protocol):
    pid: int | None

    async def pump_output(self, on_line: OnLine) -> None:
        """Feed every output line to ``on_line``; return when the output ends."""

    async def wait(self) -> int:
        """The exit code once the server is gone (negative: killed by that signal)."""

    async def terminate(self) -> None:
        """Ask the server and everything it started to shut down cleanly."""

    async def kill(self) -> None:
        """Stop the server and everything it started, now."""

    async def resource_usage(self) -> ResourceUsage | None: ...


class Runtime(Protocol):
    name: str

    def describe(self, plan: LaunchPlan) -> str:
        """One line for the log saying what is being started (no secrets)."""

    async def start(self, plan: LaunchPlan) -> RunningServer: ...


def runtime_for(name: str) -> Runtime:
    """The runtime called ``name``; refuses clearly when that runtime is not installed."""
    module_name = {"local": "local_runtime", "docker": "docker_runtime"}.get(name)
    if module_name is None:
        raise LaunchRefused(f"Unknown runtime {name!r}: use local or docker.", field="runtime")
    try:
        module = importlib.import_module(f"app.services.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"app.services.{module_name}":
            raise
        message = f"{name.capitalize()} launch is not available yet."
        raise LaunchRefused(message, field="runtime") from None
    return module.RUNTIME
