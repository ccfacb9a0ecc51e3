"""``main.py launch --docker --build``: the build log streams before the server starts."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.support.docker_engine import MODEL, REPO


def test_build_log_streams_then_the_container_serves_until_ctrl_c(
    docker_client, our_containers, tmp_path
):
    process = subprocess.Popen(
        [sys.executable, "main.py", "launch", MODEL, "--docker", "--build",
         "--model-dir", str(tmp_path / "models")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if lines[-1].startswith(f"==> {MODEL} ready at http://127.0.0.1:"):
                break
        else:
            raise AssertionError(f"never ready: {lines[-20:]!r} {process.stderr.read()!r}")
        first_step = next(i for i, x in enumerate(lines) if x.startswith("Step 1/"))
        starting = lines.index(f"==> {MODEL} starting")
        assert lines[0] == f"==> building the image for {MODEL}"
        assert first_step < starting  # the build was shown as it ran, not after the launch
        assert any(x.startswith("Successfully tagged ml-launcher/") for x in lines[:starting])
        (container,) = our_containers()
        assert container.status == "running"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert our_containers() == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
