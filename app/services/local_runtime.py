"""Run ``main.py serve`` as a child process in its own process group.

Its own group (a new session) means a Ctrl-C in the panel's terminal does not reach it, and a
stop reaches everything it started. Parameters travel in the environment, never in argv.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from app.services import process_guard
from app.services.runtime import OnLine, ProcessTreeUsage, ResourceUsage
from app.services.spec import LaunchPlan

MAIN_SCRIPT = Path(__file__).resolve().parents[2] / "main.py"
_LINE_LIMIT = 1 << 20  # one log line may be long (a JSON dump); asyncio's default is 64 KiB
_INHERITED_AUTH = ("BASIC_AUTH_USER", "BASIC_AUTH_PASS")


class LocalProcess:
    def __init__(self, process: asyncio.subprocess.Process):
        self._process = process
        self.pid: int | None = process.pid
        self._usage = ProcessTreeUsage()

    async def pump_output(self, on_line: OnLine) -> None:
        async def pump(stream: asyncio.StreamReader | None, source: str) -> None:
            while stream is not None:
                try:
                    raw = await stream.readline()
                except ValueError:  # a line over the limit: keep what fits, go on
                    raw = await stream.read(_LINE_LIMIT)
                if not raw:
                    return
                on_line(source, raw.decode("utf-8", errors="replace"))

        await asyncio.gather(
            pump(self._process.stdout, "stdout"), pump(self._process.stderr, "stderr")
        )

    async def wait(self) -> int:
        code = await self._process.wait()
        # Helpers the server left behind share its group; take them down with it.
        self._signal_group(signal.SIGKILL)
        return code

    async def terminate(self) -> None:
        self._signal_group(signal.SIGTERM)

    async def kill(self) -> None:
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if hasattr(os, "killpg"):
                os.killpg(self._process.pid, signum)
            elif self._process.returncode is None:
                self._process.kill() if signum == signal.SIGKILL else self._process.terminate()

    async def resource_usage(self) -> ResourceUsage | None:
        """CPU and resident memory of the server and its children, summed."""
        return self._usage.read(self._process.pid)


class LocalRuntime:
    name = "local"

    def command(self, plan: LaunchPlan) -> list[str]:
        return [
            sys.executable, str(MAIN_SCRIPT), "serve", plan.manifest.name,
            "--host", plan.host, "--port", str(plan.port),
            "--model-dir", str(plan.model_dir), "--log-level", plan.log_level,
        ]  # fmt: skip

    def environment(self, plan: LaunchPlan) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_AUTH}
        env.update(plan.param_env())
        env.update(plan.device_env())
        env.update(plan.auth_env())
        env["PYTHONUNBUFFERED"] = "1"
        env[process_guard.PARENT_PID_ENV] = str(os.getpid())
        return env

    def describe(self, plan: LaunchPlan) -> str:
        _, script, *args = self.command(plan)
        return f"Starting python {Path(script).name} {' '.join(args)} (device {plan.device})"

    async def start(self, plan: LaunchPlan) -> LocalProcess:
        plan.model_dir.mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            *self.command(plan),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.environment(plan),
            start_new_session=True,
            preexec_fn=process_guard.die_with_parent_preexec(),
            limit=_LINE_LIMIT,
        )
        return LocalProcess(process)


RUNTIME = LocalRuntime()
