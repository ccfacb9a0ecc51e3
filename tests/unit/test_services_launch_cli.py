"""``main.py launch``: the headless launcher, driven as a user would from a terminal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^==> interactive_substring_matching ready at (http://127\.0\.0\.1:\d+)$")


def _launch(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "main.py", "launch", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _until_ready(process: subprocess.Popen) -> tuple[list[str], int]:
    """Lines printed up to the ready line, and the server's PID."""
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if READY_RE.match(lines[-1]):
            (server,) = psutil.Process(process.pid).children()
            return lines, server.pid
    raise AssertionError(f"never ready; printed {lines!r}; stderr {process.stderr.read()!r}")


def _gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_stops_the_server_and_exits_zero(tmp_path: Path):
    process = _launch("interactive_substring_matching", "--model-dir", str(tmp_path))
    try:
        lines, server = _until_ready(process)
        assert lines[0] == "==> interactive_substring_matching starting"
        assert any("Application startup complete" in line for line in lines)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=15)
        assert process.returncode == 0
        assert out.rstrip().endswith("==> interactive_substring_matching stopped")
        assert _gone(server)
    finally:
        process.kill()
        process.communicate()


def test_a_crashed_server_makes_the_launcher_exit_non_zero(tmp_path: Path):
    process = _launch("interactive_substring_matching", "--model-dir", str(tmp_path))
    try:
        _, server = _until_ready(process)
        os.kill(server, signal.SIGKILL)
        out, _ = process.communicate(timeout=15)
        assert process.returncode == 1
        assert "==> interactive_substring_matching crashed: The server was killed by SIGKILL" in out
    finally:
        process.kill()
        process.communicate()


def test_a_bad_parameter_is_refused_before_anything_starts(capsys):
    assert main(["launch", "interactive_substring_matching", "--param", "WHOLE_WORDS=maybe"]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == "error: WHOLE_WORDS: expected true or false, got 'maybe'"
    assert out == ""


def test_exposing_without_a_password_is_refused(capsys):
    assert main(["launch", "interactive_substring_matching", "--host", "0.0.0.0"]) == 2
    assert "set a basic-auth user and password first" in capsys.readouterr().err
