"""``main.py connect`` and ``main.py preannotate`` as a user runs them, against real servers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from label_studio_sdk import LabelStudio

from backends.sdk.catalog import BACKENDS_DIR, get_manifest
from tests.e2e.labelstudio_servers import annotate
from tests.support.servers import start_model_server

pytestmark = pytest.mark.e2e


def main_py(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "main.py", *args]
    return subprocess.run(
        command, cwd=BACKENDS_DIR.parent, capture_output=True, text=True, timeout=120
    )


def test_connect_then_preannotate_from_the_command_line(label_studio, tmp_path):
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.legacy_token)
    config = get_manifest("sklearn_text_classifier").default_label_config
    project = client.projects.create(title="cli project", label_config=config)
    texts = [{"text": f"{'lovely' if i % 2 else 'dreadful'} day {i}"} for i in range(120)]
    ids = client.projects.import_tasks(project.id, request=texts, return_task_ids=True).task_ids
    studio = ["--ls", label_studio.url, "--token", label_studio.legacy_token]
    server = start_model_server("sklearn_text_classifier", {}, workdir=tmp_path)
    try:
        listed = main_py("connect", *studio)
        assert listed.returncode == 0 and f"#{project.id} cli project (120 tasks" in listed.stdout

        args = ["--project", str(project.id), "--backend", server.url]
        connected = main_py("connect", *studio, *args, "--model", "sklearn_text_classifier")
        assert connected.returncode == 0, connected.stderr
        assert "Connected ML backend" in connected.stdout
        annotate(client, ids[:4], lambda i: "Positive" if i % 2 else "Negative")

        done = main_py("preannotate", *studio, *args, "--chunk", "25", "--concurrency", "2")
        assert done.returncode == 0, done.stderr
        assert "Stored 120 predictions" in done.stdout
        assert "120/120" in done.stderr  # the progress bar reached the end

        again = main_py("preannotate", *studio, *args)
        assert again.returncode == 0 and "Stored 0 predictions" in again.stdout

        gone = main_py("connect", *studio, *args, "--disconnect")
        assert gone.returncode == 0 and "and 1 webhook(s)" in gone.stdout
    finally:
        server.stop()
    assert len(list(client.predictions.list(project=project.id))) == 120


def test_bad_token_is_a_sentence_not_a_traceback(label_studio):
    result = main_py("connect", "--ls", label_studio.url, "--token", "wrong-token-123456")
    assert result.returncode == 1
    assert "refused the token" in result.stdout and "Traceback" not in result.stderr
