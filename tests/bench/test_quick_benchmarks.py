"""Every benchmark still runs: CI runs each in its ``--quick`` mode and reads its closing figures.

These are not timed tests (the figures vary with the machine); they fail when a benchmark
breaks or stops printing the comparison it exists for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def quick(script: str, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", *args],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_serve_throughput_measures_our_server():
    out = quick("serve_throughput.py")
    assert "ours" in out and "req/s" in out


def test_ui_responsiveness_prints_lag_and_start_up_ratios():
    out = quick("ui_responsiveness.py")
    assert "p99" in out and "x" in out


def test_train_reports_time_per_epoch_and_peak_memory():
    out = quick("train.py")
    assert "epoch" in out.lower() and "MB" in out


@pytest.mark.e2e
def test_preannotate_compares_our_job_with_label_studios_action():
    out = quick("preannotate.py", timeout=600)
    assert "ratio" in out.lower()


@pytest.mark.docker
def test_launch_compares_process_and_container(sklearn_image):
    out = quick("launch.py", timeout=600)
    assert "container / local: ready x" in out
