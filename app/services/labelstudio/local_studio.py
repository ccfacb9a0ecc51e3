"""A Label Studio of the app's own, for teams that have none.

First use installs ``label-studio==1.23.2`` into a virtual environment the app manages (about
1 GB, a minute or two, progress as pip's lines). It then runs on 127.0.0.1 with an admin user
and a token the app keeps in the keyring, and with the settings local model servers need:
ML backends and webhooks on this machine allowed (``ML_BLOCK_LOCAL_IP=false``,
``SSRF_PROTECTION_ENABLED=false``) and legacy tokens on, so the token handed to model
servers in ``/setup`` works. ``ML_LAUNCHER_LS_VENV`` points at an existing environment
instead (tests, or a Label Studio installed by hand).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets as token_source
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from app.services import paths, ports, secrets
from app.services.labelstudio.connection import remember_token
from app.services.labelstudio.errors import StudioError

VERSION = "1.23.2"
VENV_ENV = "ML_LAUNCHER_LS_VENV"
USER = "admin@ml-launcher.local"
_KEY = "local-label-studio/"
# Label Studio's get_env() also reads these un-prefixed names: a desktop session's $USERNAME
# would otherwise become the admin user.
_UNSET = ("USERNAME", "PASSWORD", "PORT", "HOST", "USER_TOKEN")

_LINE_LIMIT = 1 << 20  # Django prints long lines; the default 64 KiB would end the pump

Lines = Callable[[str], None]


class LocalStudio:
    def __init__(self, home: Path | None = None, venv: Path | None = None):
        self.home = home or paths.data_dir() / "label-studio"
        given = venv or os.environ.get(VENV_ENV)
        self.venv = Path(given) if given else self.home / "venv"
        self.data_dir = self.home / "data"
        self.port: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task | None = None

    @property
    def executable(self) -> Path:
        scripts = "Scripts" if sys.platform == "win32" else "bin"
        return (
            self.venv
            / scripts
            / ("label-studio.exe" if sys.platform == "win32" else "label-studio")
        )

    @property
    def installed(self) -> bool:
        return self.executable.exists()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else ""

    def credentials(self) -> tuple[str, str, str]:
        """(user, password, API token): made once, kept in the keyring."""
        values = []
        for name, size in (("password", 12), ("token", 20)):
            value = secrets.get_secret(_KEY + name)
            if not value:
                value = token_source.token_hex(size)
                secrets.set_secret(_KEY + name, value)
            values.append(value)
        return USER, values[0], values[1]

    async def install(self, on_line: Lines = print) -> None:
        """Create the environment and pip-install Label Studio, reporting pip's output."""
        if self.installed:
            return
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        on_line(f"Installing Label Studio {VERSION} into {self.venv} (about 1 GB; a few minutes)")
        await _run([_base_python(), "-m", "venv", str(self.venv)], on_line)
        pip = self.venv / ("Scripts" if sys.platform == "win32" else "bin") / "pip"
        await _run(
            [str(pip), "install", "--progress-bar", "off", f"label-studio=={VERSION}"], on_line
        )
        if not self.installed:
            raise StudioError("Installing Label Studio did not produce its program; see the log.")

    async def start(self, on_line: Lines = print, timeout: float = 300.0) -> str:
        """Install if needed, start, wait until it answers; returns its URL. The first start
        creates the database (a minute on a slow machine); later ones take seconds."""
        if self.running:
            return self.url
        await self.install(on_line)
        user, password, token = self.credentials()
        self.port = self._choose_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _UNSET}
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(self.data_dir),
            LABEL_STUDIO_USERNAME=user,
            LABEL_STUDIO_PASSWORD=password,
            LABEL_STUDIO_USER_TOKEN=token,
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
            ML_BLOCK_LOCAL_IP="false",
            SSRF_PROTECTION_ENABLED="false",
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
            LATEST_VERSION_CHECK="false",
            COLLECT_ANALYTICS="false",
        )
        command = [str(self.executable), "start", "--no-browser", "--internal-host", "127.0.0.1"]
        on_line(f"Starting Label Studio on {self.url}")
        self._process = await asyncio.create_subprocess_exec(
            *command,
            "--port",
            str(self.port),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            limit=_LINE_LIMIT,
        )
        self._pump = asyncio.create_task(_pump(self._process, on_line))
        await self._wait_up(timeout)
        remember_token(self.url, token)
        (self.home / "state.json").write_text(json.dumps({"port": self.port}))
        return self.url

    def _choose_port(self) -> int:
        """The port of last time if free (a stable URL keeps browser logins), else any."""
        with contextlib.suppress(OSError, ValueError, KeyError):
            port = int(json.loads((self.home / "state.json").read_text())["port"])
            if not ports.port_in_use("127.0.0.1", port):
                return port
        return 8080 if not ports.port_in_use("127.0.0.1", 8080) else ports.free_port()

    async def _wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise StudioError("Label Studio stopped while starting; see its log lines.")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.url}/health")).status_code == 200:
                        return
                await asyncio.sleep(0.5)
        await self.stop()
        raise StudioError(f"Label Studio did not answer within {timeout:g} s; see its log lines.")

    async def stop(self, timeout: float = 15.0) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
        if self._pump is not None:
            await self._pump
        self._process = None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(pid, sig)  # its own session: the group id is its pid
        else:
            os.kill(pid, sig)


def _base_python() -> str:
    """A real interpreter for ``-m venv`` (in a frozen app ``sys.executable`` is the app)."""
    if getattr(sys, "frozen", False):
        return "python3"
    return getattr(sys, "_base_executable", None) or sys.executable


async def _run(command: list[str], on_line: Lines) -> None:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=_LINE_LIMIT,
    )
    await _pump(process, on_line)
    if await process.wait() != 0:
        raise StudioError(
            f"{Path(command[0]).name} {command[1]} failed (exit {process.returncode})."
        )


async def _pump(process: asyncio.subprocess.Process, on_line: Lines) -> None:
    if process.stdout is None:
        return
    async for raw in process.stdout:
        on_line(raw.decode(errors="replace").rstrip())
