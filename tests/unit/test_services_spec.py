"""What the launcher refuses before any process starts, and what a plan hands the server."""

import socket
from pathlib import Path

import pytest

from app.services.local_runtime import LocalRuntime
from app.services.runtime import runtime_for
from app.services.spec import LaunchRefused, LaunchSpec, resolve
from backends.sdk.catalog import get_manifest

SKLEARN = get_manifest("sklearn_text_classifier")


def test_a_bad_parameter_is_refused_naming_it():
    spec = LaunchSpec(model=SKLEARN.name, params={"LOGISTIC_REGRESSION_C": "lots"})
    with pytest.raises(LaunchRefused) as refused:
        resolve(spec, SKLEARN)
    assert str(refused.value) == "LOGISTIC_REGRESSION_C: expected a number, got 'lots'"
    assert refused.value.field == "LOGISTIC_REGRESSION_C"


def test_exposing_on_the_network_needs_basic_auth():
    with pytest.raises(LaunchRefused, match="set a basic-auth user and password") as refused:
        resolve(LaunchSpec(model=SKLEARN.name, host="0.0.0.0"), SKLEARN)
    assert refused.value.field == "basic_auth"
    plan = resolve(LaunchSpec(model=SKLEARN.name, host="0.0.0.0", basic_auth=("u", "p")), SKLEARN)
    assert plan.host == "0.0.0.0"


def test_an_unknown_device_is_refused():
    with pytest.raises(LaunchRefused, match="use cpu or cuda:N"):
        resolve(LaunchSpec(model=SKLEARN.name, device="gpu1"), SKLEARN)


def test_a_port_already_taken_is_refused_before_launch():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LaunchRefused, match=f"Port {port} on 127.0.0.1 is already in use"):
            resolve(LaunchSpec(model=SKLEARN.name, port=port), SKLEARN)


def test_secrets_travel_in_the_environment_not_on_the_command_line(tmp_path: Path):
    spec = LaunchSpec(
        model=SKLEARN.name,
        params={"LABEL_STUDIO_API_KEY": "s3cret-token", "LOGISTIC_REGRESSION_C": "2"},
        device="cuda:1",
        debug=True,
        basic_auth=("ann", "pa55word"),
        model_dir=tmp_path,
    )
    plan = resolve(spec, SKLEARN)
    runtime = LocalRuntime()
    command = " ".join(runtime.command(plan))
    assert "s3cret-token" not in command and "pa55word" not in command
    assert "--log-level debug" in command and f"--port {plan.port}" in command
    env = runtime.environment(plan)
    assert env["LABEL_STUDIO_API_KEY"] == "s3cret-token"
    assert env["LOGISTIC_REGRESSION_C"] == "2.0"
    assert env["BASIC_AUTH_PASS"] == "pa55word"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert "s3cret-token" not in runtime.describe(plan)


def test_cpu_hides_every_gpu(tmp_path: Path):
    plan = resolve(LaunchSpec(model=SKLEARN.name, model_dir=tmp_path), SKLEARN)
    assert LocalRuntime().environment(plan)["CUDA_VISIBLE_DEVICES"] == ""


def test_docker_launch_says_when_it_is_not_there_yet():
    try:
        runtime_for("docker")
    except LaunchRefused as refused:
        assert str(refused) == "Docker launch is not available yet."
    else:  # the Docker runtime exists: it must be a runtime
        assert runtime_for("docker").name == "docker"
