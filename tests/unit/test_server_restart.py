"""A restarted server remembers what /setup told it, so Label Studio's next call just works."""

from __future__ import annotations

import stat

import pytest

pytestmark = pytest.mark.anyio


async def test_setup_survives_a_restart_and_its_token_stays_private(serve, ls_sample, tmp_path):
    setup = {**ls_sample("post_setup"), "project": "7.1712586036", "access_token": "secret-token"}
    predict = {**ls_sample("post_predict"), "project": "7.1712586036"}
    predict.pop("label_config")
    async with serve("Echo") as client:
        assert (await client.post("/setup", json=setup)).status_code == 200
    async with serve("Echo") as client:  # a new process on the same model directory
        answered = await client.post("/predict", json=predict)
        project = client._transport.app.state.server.projects.get("7")

    assert answered.status_code == 200, answered.text
    assert answered.json()["results"][0]["result"]
    assert (project.hostname, project.access_token) == (setup["hostname"], "secret-token")
    saved = tmp_path / "models" / "7" / "setup.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


async def test_a_damaged_setup_file_only_means_waiting_for_the_next_setup(
    serve, ls_sample, tmp_path
):
    (tmp_path / "models" / "8").mkdir(parents=True)
    (tmp_path / "models" / "8" / "setup.json").write_text("{not json")
    predict = {**ls_sample("post_predict"), "project": "8.1712586036"}
    predict.pop("label_config")
    async with serve("Echo") as client:
        refused = await client.post("/predict", json=predict)
        accepted = await client.post("/setup", json={**ls_sample("post_setup"), "project": "8.1"})
    assert refused.status_code == 422 and refused.json()["field"] == "label_config"
    assert accepted.status_code == 200
