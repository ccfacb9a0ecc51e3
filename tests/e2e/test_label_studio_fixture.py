"""The Label Studio fixtures hand out a real, usable server; every other e2e test builds on them."""

from __future__ import annotations

import os

import httpx
from label_studio_sdk import LabelStudio

from tests.support.label_studio import running_label_studio

TEXT_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""


def whoami(url: str, authorization: str) -> httpx.Response:
    return httpx.get(f"{url}/api/current-user/whoami", headers={"Authorization": authorization})


def test_make_project_imports_the_tasks_it_was_given(make_project, ls_client):
    project = make_project(TEXT_CONFIG, [{"text": "good"}, {"text": "bad"}, {"text": "meh"}])

    assert len(project.task_ids) == 3
    assert ls_client.projects.get(project.id).task_number == 3
    texts = {task.data["text"] for task in ls_client.tasks.list(project=project.id)}
    assert texts == {"good", "bad", "meh"}


def test_legacy_token_is_accepted_over_plain_http(label_studio):
    response = whoami(label_studio.url, f"Token {label_studio.legacy_token}")

    assert response.status_code == 200
    assert response.json()["email"] == label_studio.username


def test_pat_works_through_the_sdk(label_studio):
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.pat())

    assert client.users.whoami().email == label_studio.username


def test_pat_only_instance_refuses_the_legacy_token_and_stops_cleanly(tmp_path):
    with running_label_studio(tmp_path, legacy_tokens=False) as server:
        refused = whoami(server.url, f"Token {server.legacy_token}")
        client = LabelStudio(base_url=server.url, api_key=server.pat())
        assert client.users.whoami().email == server.username
        pid = server.process.pid

    assert refused.status_code == 401
    assert "legacy token authentication has been disabled" in refused.json()["detail"]
    assert server.process.poll() is not None
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return
    raise AssertionError(f"process group {pid} still has members after stop()")
