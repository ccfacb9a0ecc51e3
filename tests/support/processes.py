"""Start servers in their own process group so teardown can always take the whole tree down."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def start_in_own_group(
    command: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None, cwd=None
) -> subprocess.Popen:
    """Run ``command`` detached from the test's terminal, stdout and stderr into ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    """SIGTERM the group, SIGKILL whatever is left after ``grace`` seconds; safe to call twice."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    # Children that ignored SIGTERM outlive their leader: the group id stays valid while they run.
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def log_tail(log_path: Path, lines: int = 40) -> str:
    """The end of a server log, for failure messages that explain themselves."""
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


class StoppableProcess:
    """Mixin for a test's server record with ``process`` (in its own group) and ``log_path``."""

    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the whole process group, once; later calls do nothing."""
        if not self.__dict__.get("_stopped"):
            stop_group(self.process)
            self._stopped = True
