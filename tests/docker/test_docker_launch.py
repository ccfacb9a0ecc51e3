"""The sklearn model server in a real container, launched and watched through app/services."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import httpx
import pytest

from app.services import docker_images
from app.services.docker_containers import CONTAINER_MODEL_DIR, MODEL_LABEL
from app.services.docker_engine import NO_GPU
from app.services.docker_runtime import leave_running, reattach
from app.services.instances import InstanceState
from app.services.registry import InstanceRegistry
from app.services.spec import LaunchSpec
from backends.sdk.catalog import get_manifest
from tests.docker.waiting import run, until
from tests.support.docker_engine import MODEL

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "ls_samples"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def label_studio_predict_body() -> dict:
    """The /predict body Label Studio 1.23.2 really sent for a sentiment project."""
    return json.loads((SAMPLES / "post_predict.json").read_text(encoding="utf-8"))["body"]


@pytest.fixture
def host_service():
    """A stand-in for Label Studio on this machine, listening on every interface as LS does."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello from the host")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_image_build_reports_steps_and_reuses_cached_layers(sklearn_image, docker_client):
    steps = [step for step, _ in sklearn_image.steps]
    assert steps == list(range(1, steps[-1] + 1)) and {t for _, t in sklearn_image.steps} == {
        steps[-1]
    }
    manifest = get_manifest(MODEL)
    assert sklearn_image.tag in docker_images.local_tags(docker_client, manifest)
    image = docker_client.images.get(sklearn_image.tag)
    config = image.attrs["Config"]
    assert config["User"] == "app"
    assert "9090/tcp" in config["ExposedPorts"] and CONTAINER_MODEL_DIR in config["Volumes"]
    assert "healthcheck.py" in " ".join(config["Healthcheck"]["Test"])
    # pretrained weights a model downloads land on the model volume, so they survive the container
    assert f"HF_HOME={CONTAINER_MODEL_DIR}/.huggingface" in config["Env"]

    again: list[str] = []
    options = docker_images.BuildOptions.for_extra(manifest.extra)
    docker_images.build_image(docker_client, manifest, options, on_line=again.append)
    install_step = next(i for i, line in enumerate(again) if "pip install" in line)
    assert "Using cache" in again[install_step + 1], again[install_step : install_step + 3]


def test_launch_predict_logs_stop_leaves_no_container(
    sklearn_image, our_containers, host_service, tmp_path
):
    spec = LaunchSpec(
        MODEL,
        params={"LABEL_STUDIO_URL": f"http://localhost:{host_service}"},
        runtime="docker",
        image=sklearn_image.tag,
        model_dir=tmp_path / "models",
    )

    async def scenario():
        registry = InstanceRegistry()
        instance = await registry.launch(spec, poll_interval=0.2)
        await until(lambda: instance.state is InstanceState.READY, "ready")
        async with httpx.AsyncClient(base_url=instance.url) as client:
            response = await client.post("/predict", json=label_studio_predict_body())
        assert response.status_code == 200, response.text
        assert len(response.json()["results"]) == len(label_studio_predict_body()["tasks"])
        await until(
            lambda: any("POST /predict 200" in x.text for x in instance.logs.lines()), "log"
        )

        (container,) = our_containers()
        assert container.labels[MODEL_LABEL] == MODEL
        (binding,) = container.attrs["HostConfig"]["PortBindings"]["9090/tcp"]
        assert binding == {"HostIp": "127.0.0.1", "HostPort": str(port_of(instance.url))}
        mount = next(
            m for m in container.attrs["Mounts"] if m["Destination"] == CONTAINER_MODEL_DIR
        )
        assert Path(mount["Source"]) == tmp_path / "models"
        # the server is not root, and what it saves lands in the user's model folder
        write = "import os;open('/data/models/probe','w').write(str(os.getuid()))"
        assert container.exec_run(["python", "-c", write]).exit_code == 0
        assert (tmp_path / "models" / "probe").read_text() != "0"
        # Label Studio on "localhost" is reached from inside the container, as the user meant
        fetch = (
            "import os,urllib.request as u;print(u.urlopen(os.environ['LABEL_STUDIO_URL']).read())"
        )
        code, output = container.exec_run(["python", "-c", fetch])
        assert code == 0 and b"hello from the host" in output, output

        await instance.stop()
        assert instance.state is InstanceState.STOPPED and instance.exit_code == 0
        assert any("Application shutdown complete" in x.text for x in instance.logs.lines())

    run(scenario())
    assert our_containers() == []


def test_gpu_request_on_engine_without_gpu_is_a_plain_error(sklearn_image, our_containers):
    spec = LaunchSpec(MODEL, runtime="docker", image=sklearn_image.tag, device="cuda:0")

    async def scenario():
        instance = await InstanceRegistry().launch(spec)
        assert instance.state is InstanceState.CRASHED
        assert NO_GPU in instance.failure

    run(scenario())
    assert our_containers() == []


def test_app_restart_reattaches_to_running_container(sklearn_image, our_containers):
    spec = LaunchSpec(MODEL, params={"LOGISTIC_REGRESSION_C": 2.5}, runtime="docker",
                      image=sklearn_image.tag)  # fmt: skip

    async def first_panel() -> int:
        instance = await InstanceRegistry().launch(spec, poll_interval=0.2)
        await until(lambda: instance.state is InstanceState.READY, "ready")
        leave_running()  # the user quits and keeps the server running
        return port_of(instance.url)

    async def second_panel(port: int) -> None:
        registry = InstanceRegistry()
        (instance,) = await reattach(registry, poll_interval=0.2)
        assert registry.instances == [instance]
        assert instance.spec.port == port and instance.spec.params["LOGISTIC_REGRESSION_C"] == 2.5
        await until(lambda: instance.state is InstanceState.READY, "ready again")
        assert (await instance.test_request()).ok
        assert any("Application startup complete" in x.text for x in instance.logs.lines())
        await instance.stop()
        assert instance.state is InstanceState.STOPPED

    port = run(first_panel())
    assert len(our_containers()) == 1
    run(second_panel(port))
    assert our_containers() == []


def test_network_launch_needs_auth_and_stays_healthy(sklearn_image, our_containers):
    spec = LaunchSpec(MODEL, host="0.0.0.0", basic_auth=("ann", "s3cret"), runtime="docker",
                      image=sklearn_image.tag)  # fmt: skip

    async def scenario():
        instance = await InstanceRegistry().launch(spec, poll_interval=0.2)
        await until(lambda: instance.state is InstanceState.READY, "ready")
        async with httpx.AsyncClient(base_url=instance.url) as client:
            assert (await client.get("/health")).status_code == 401
            authorised = await client.get("/health", auth=("ann", "s3cret"))
            assert authorised.status_code == 200
        (container,) = our_containers()
        (binding,) = container.attrs["HostConfig"]["PortBindings"]["9090/tcp"]
        assert binding["HostIp"] == "0.0.0.0"
        # the image's HEALTHCHECK, run now rather than after its first interval
        code, output = container.exec_run(container.attrs["Config"]["Healthcheck"]["Test"][1:])
        assert code == 0, output
        await instance.stop()

    run(scenario())
    assert our_containers() == []
