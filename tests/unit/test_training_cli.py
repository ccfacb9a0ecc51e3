"""``main.py train``: starts a job on a real server process, prints metrics, exits by outcome."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.unit.test_training_jobs import REPO, SENTIMENT, steps_process

SETUP = {"project": "4.1", "schema": SENTIMENT}


def train(url: str, *args: str) -> subprocess.Popen:
    command = [sys.executable, "main.py", "train", "--backend", url, *args]
    return subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_follow_prints_each_metric_point_then_the_new_version(tmp_path):
    with steps_process(tmp_path, tmp_path / "models", steps=3) as (url, _):
        httpx.post(f"{url}/setup", json=SETUP)
        out, err = train(url, "--project", "4", "--follow").communicate(timeout=60)
        queued = train(url)  # the only project this server knows
        queued_out, _ = queued.communicate(timeout=60)
    lines = out.splitlines()
    assert lines[0].startswith("job ") and lines[0].endswith(" for project 4")
    assert [line.split() for line in lines if line.startswith("step")] == [
        ["step", "1", "loss", "1.0000"],
        ["step", "2", "loss", "0.5000"],
        ["step", "3", "loss", "0.3333"],
    ]
    assert "done in" in lines[-1]
    assert lines[-1].endswith(": version Steps-v1 (steps 3)")
    assert err == ""
    assert queued.returncode == 0
    assert queued_out.startswith("job ") and " for project 4" in queued_out


def test_a_cancelled_job_ends_the_follow_with_status_3(tmp_path):
    with steps_process(tmp_path, tmp_path / "models", steps=0) as (url, _):
        httpx.post(f"{url}/setup", json=SETUP)
        follower = train(url, "--project", "4", "--follow")
        job_id = _running_job(url)
        httpx.post(f"{url}/jobs/{job_id}/cancel")
        out, _ = follower.communicate(timeout=60)
    assert follower.returncode == 3
    assert out.splitlines()[-1].startswith(f"job {job_id} cancelled in ")


def test_a_failed_job_exits_non_zero_with_the_reason(tmp_path, serve_model):
    """Label Studio is not running where /setup said it is, so pulling annotations fails."""
    served = serve_model("sklearn_text_classifier", {"START_TRAINING_EACH_N_UPDATES": 0})
    setup = {**SETUP, "hostname": "http://127.0.0.1:9", "access_token": "some-token"}
    refused = train(served.url, "--project", "4")
    refused_out, refused_err = refused.communicate(timeout=60)
    httpx.post(f"{served.url}/setup", json=setup)
    failing = train(served.url, "--project", "4", "--follow")
    out, err = failing.communicate(timeout=60)
    assert refused.returncode == 1
    assert refused_out == ""
    assert refused_err.startswith("error: project 4 has no label config yet")
    assert failing.returncode == 1
    assert "failed in" in out.splitlines()[-1]
    assert (
        "LabelStudioUnreachable: cannot pull annotations: http://127.0.0.1:9 is unreachable"
        in (out.splitlines()[-1])
    )
    assert err == ""


def _running_job(url: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = httpx.get(f"{url}/jobs").json()["jobs"]
        if jobs and jobs[0]["state"] == "running":
            return jobs[0]["id"]
        time.sleep(0.05)
    raise AssertionError("no job started")
