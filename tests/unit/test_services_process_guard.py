"""No orphans: killing the panel with SIGKILL takes its model servers down with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], timeout: float = 5) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(gone(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if not gone(p)]


def _start(script: str) -> tuple[subprocess.Popen, list[int]]:
    """Run ``script`` in a fresh python; it prints the PIDs it wants watched on one line."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line, "the parent script died before reporting its children"
    return process, [int(pid) for pid in line.split()]


def test_launched_server_dies_when_the_panel_is_killed(tmp_path: Path):
    parent, (server,) = _start(f"""
        import asyncio
        from app.services.instances import InstanceState, LaunchSpec
        from app.services.registry import InstanceRegistry

        async def main():
            registry = InstanceRegistry()
            spec = LaunchSpec("interactive_substring_matching", model_dir={str(tmp_path)!r})
            instance = await registry.launch(spec, poll_interval=0.2)
            while instance.state is not InstanceState.READY:
                await asyncio.sleep(0.05)
            print(instance.pid, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
    """)
    try:
        assert psutil.Process(server).cmdline()[2:4] == ["serve", "interactive_substring_matching"]
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert wait_gone([server]) == []
    finally:
        parent.kill()
        parent.wait()
        if not gone(server):
            os.kill(server, signal.SIGKILL)


def test_watchdog_alone_takes_the_whole_server_group_down():
    """Without PDEATHSIG (macOS, Windows): the server's watchdog notices the parent is gone and
    kills its process group, helpers included."""
    server_script = (
        "import subprocess, sys, time\n"
        "from app.services.process_guard import exit_with_parent\n"
        "exit_with_parent()\n"
        "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(helper.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent, (server, helper) = _start(f"""
        import os, subprocess, sys, time
        server = subprocess.Popen(
            [sys.executable, "-c", {server_script!r}],
            env={{**os.environ, "ML_LAUNCHER_PARENT_PID": str(os.getpid())}},
            start_new_session=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        print(server.pid, server.stdout.readline().strip(), flush=True)
        time.sleep(60)
    """)
    try:
        assert not gone(server) and not gone(helper)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert wait_gone([server, helper]) == []
    finally:
        parent.kill()
        parent.wait()
        for pid in (server, helper):
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
