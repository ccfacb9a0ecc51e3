"""What a user reads when Docker cannot do what was asked, and that nothing is left behind."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from app.services.docker_engine import DockerFailure, DockerUnavailable, connect
from app.services.docker_images import BuildOptions, build_image
from app.services.docker_runtime import RUNTIME
from app.services.instances import InstanceState
from app.services.ports import free_port
from app.services.registry import InstanceRegistry
from app.services.spec import LaunchPlan, LaunchSpec
from backends.sdk.catalog import get_manifest
from tests.docker.waiting import run, until
from tests.support.docker_engine import MODEL, REPO


def test_no_engine_names_docker_host(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(DockerUnavailable) as caught:
        connect()
    assert f"No Docker engine answers at DOCKER_HOST=unix://{tmp_path}/docker.sock" in str(
        caught.value
    )


def test_socket_without_permission_says_so(docker_client):
    """As an unprivileged user (setpriv), against the real engine's root-only socket."""
    probe = "from app.services.docker_engine import connect; connect()"
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run(
        [*nobody, sys.executable, "-c", probe],
        cwd=REPO, capture_output=True, text=True, env=os.environ, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Permission denied on the Docker socket" in result.stderr
    assert "'docker' group" in result.stderr


def test_missing_image_is_named(docker_client, our_containers):
    spec = LaunchSpec(MODEL, runtime="docker", image="ml-launcher/not-built:nowhere")

    async def scenario():
        instance = await InstanceRegistry().launch(spec)
        assert instance.state is InstanceState.CRASHED
        assert "ml-launcher/not-built:nowhere is not on this Docker engine" in instance.failure
        assert "build it" in instance.failure

    run(scenario())
    assert our_containers() == []


def test_port_taken_by_another_container(docker_client, sklearn_image, our_containers):
    """The engine's own refusal (a race the panel's port check cannot see) in plain words."""
    port = free_port()
    blocker = docker_client.containers.run(
        "local/debian-python:bookworm", ["python3", "-m", "http.server", "8000"],
        ports={"8000/tcp": ("127.0.0.1", port)}, detach=True, init=True,
    )  # fmt: skip
    try:
        plan = plan_for(port, sklearn_image.tag)
        with pytest.raises(DockerFailure) as caught:
            run(RUNTIME.start(plan))
        assert f"Port {port} on 127.0.0.1 is already taken" in str(caught.value)
        assert our_containers() == []
    finally:
        blocker.remove(force=True)


def test_exited_container_reports_exit_code_and_last_lines(docker_client, sklearn_image, tmp_path):
    """An image that lacks the model (built from an older checkout, say) exits at once."""
    dockerfile = (
        f"FROM {sklearn_image.tag}\nUSER root\nRUN rm -rf /app/backends/{MODEL}\nUSER app\n"
    )
    docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag="ml-launcher/old:test", rm=True, forcerm=True
    )
    spec = LaunchSpec(MODEL, runtime="docker", image="ml-launcher/old:test")

    async def scenario():
        instance = await InstanceRegistry().launch(spec, poll_interval=0.2)
        await until(lambda: instance.state is InstanceState.CRASHED, "crashed")
        assert instance.exit_code == 2
        assert "exited with code 2" in instance.failure
        assert any(f"unknown model '{MODEL}'" in line.text for line in instance.last_lines)

    try:
        run(scenario())
    finally:
        docker_client.images.remove("ml-launcher/old:test")


def plan_for(port: int, image: str) -> LaunchPlan:
    manifest = get_manifest(MODEL)
    return LaunchPlan(
        manifest=manifest, params=manifest.validate_params({}), host="127.0.0.1", port=port,
        device="cpu", log_level="info", basic_auth=None, model_dir=REPO / ".cache" / "unused",
        image=image, build_image=False,
    )  # fmt: skip


def test_build_failure_names_the_step_and_the_missing_base(docker_client):
    manifest = get_manifest(MODEL)
    options = BuildOptions(base_image="local/absent:none")
    with pytest.raises(DockerFailure) as caught:
        build_image(docker_client, manifest, options, tag="ml-launcher/never:built")
    message = str(caught.value)
    assert message.startswith("Building ml-launcher/never:built failed")
    assert "The base image could not be pulled" in message
    assert "ML_LAUNCHER_DOCKER_BASE_IMAGE" in message
    assert "FROM ${BASE_IMAGE}" in message  # the step it stopped at
