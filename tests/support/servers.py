"""Model servers started the way users start them: ``python main.py serve MODEL`` as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .net import free_port, wait_for_http_ok
from .processes import StoppableProcess, log_tail, start_in_own_group

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServedModel(StoppableProcess):
    """A running ``main.py serve`` process and where to find its traces."""

    name: str
    url: str
    model_dir: Path
    log_path: Path
    process: subprocess.Popen


def start_model_server(
    name: str,
    params: Mapping[str, object],
    *,
    workdir: Path,
    model_dir: Path | None = None,
    basic_auth: tuple[str, str] | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> ServedModel:
    """Start the server on a free loopback port and return once ``/health`` answers 200.

    With ``basic_auth`` the server requires it on every route, readiness probe included.
    """
    port = free_port()
    model_dir = model_dir or workdir / "models"
    command = [sys.executable, str(REPO_ROOT / "main.py"), "serve", name, "--port", str(port)]
    command += ["--model-dir", str(model_dir)]
    for key, value in params.items():
        command += ["--param", f"{key}={value}"]
    if basic_auth:
        command += ["--basic-auth-user", basic_auth[0], "--basic-auth-pass", basic_auth[1]]
    command += list(extra_args)
    log_path = workdir / f"{name}.log"
    process = start_in_own_group(
        command,
        log_path=log_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        cwd=REPO_ROOT,
    )
    served = ServedModel(name, f"http://127.0.0.1:{port}", model_dir, log_path, process)
    try:
        health = f"{served.url}/health"
        wait_for_http_ok(health, timeout=timeout, process=process, basic_auth=basic_auth)
    except Exception as exc:
        served.stop()
        message = f"`main.py serve {name}` did not get ready: {exc}\n{log_tail(log_path)}"
        raise RuntimeError(message) from exc
    except BaseException:
        served.stop()
        raise
    return served
