"""``serve`` as the panel starts it: a real uvicorn process, readable logs, honest exit codes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from pathlib import Path
from backends.sdk.server import serve
from tests.unit.fake_models import manifest
sys.exit(serve(manifest("Echo"), {}, host="127.0.0.1", port=int(sys.argv[1]),
               model_dir=Path(sys.argv[2]), log_level="info", basic_auth=None))
"""
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S")


def start(port: int, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(port), str(tmp_path / "models")],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return process, log


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_logs_readable_lines_and_exits_cleanly(tmp_path, stop):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process, log = start(port, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        httpx.get(f"http://127.0.0.1:{port}/no-such-route", timeout=1)
        process.send_signal(stop)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = log.read_text().splitlines()
    assert health.json()["status"] == "UP"
    assert all(LOG_LINE.match(line) for line in lines), lines
    assert any(" INFO GET /no-such-route 404 " in line for line in lines)
    assert not any(" INFO GET /health 200 " in line for line in lines)  # polled: DEBUG only


def test_serve_exits_with_3_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process, log = start(taken.getsockname()[1], tmp_path)
        try:
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code == 3
    assert "address already in use" in log.read_text().lower()
