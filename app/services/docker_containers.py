"""What a container of ours looks like, both ways: a launch plan -> run settings and labels,
and, when the panel starts again, labels -> the spec of a server still running.

Our containers carry ``ml-launcher.instance`` (the mark: only the launcher sets it) and
``ml-launcher.model``; ``ml-launcher.spec`` holds the launch choices without secrets, which
stay in the container's environment, where the engine keeps them anyway.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from docker.types import DeviceRequest

from app.services.docker_engine import connect
from app.services.spec import LaunchPlan, LaunchSpec
from backends.sdk.catalog import UnknownModel, get_manifest
from backends.sdk.manifest import Manifest, ParamType

INSTANCE_LABEL = "ml-launcher.instance"
MODEL_LABEL = "ml-launcher.model"
SPEC_LABEL = "ml-launcher.spec"
CONTAINER_PORT = 9090
CONTAINER_MODEL_DIR = "/data/models"
IMAGE_UID = 10001  # the image's non-root user (packaging/docker/Dockerfile)
HOST_GATEWAY = "host.docker.internal"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def container_url(url: str) -> str:
    """A URL that pointed at this machine, as the container reaches it.

    Inside a container, localhost is the container itself; Label Studio on the host is at
    host.docker.internal (mapped to the host gateway by ``extra_hosts`` on every engine).
    """
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK_NAMES:
        return url
    netloc = HOST_GATEWAY + (f":{parts.port}" if parts.port else "")
    if parts.username:
        credentials = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{credentials}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def environment(plan: LaunchPlan) -> dict[str, str]:
    env = {
        name: container_url(value) if name.endswith("_URL") else value
        for name, value in plan.param_env().items()
    }
    env.update(plan.auth_env())
    if not plan.device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = ""  # a GPU container sees only its own GPU, as index 0
    return env


def labels(plan: LaunchPlan, instance_id: str) -> dict[str, str]:
    public = {
        name: value
        for name, value in plan.params.items()
        if (p := plan.manifest.parameter(name)) is None or p.type is not ParamType.SECRET
    }
    spec = {
        "host": plan.host, "port": plan.port, "device": plan.device,
        "debug": plan.log_level == "debug", "model_dir": str(plan.model_dir),
        "image": plan.image, "params": public,
    }  # fmt: skip
    return {
        INSTANCE_LABEL: instance_id,
        MODEL_LABEL: plan.manifest.name,
        SPEC_LABEL: json.dumps(spec),
    }


def run_config(plan: LaunchPlan, image: str, instance_id: str) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``: same command as a local launch."""
    config: dict[str, Any] = {
        "image": image,
        "name": f"ml-launcher-{plan.manifest.name.replace('_', '-')}-{instance_id[:6]}",
        "command": [
            "python", "main.py", "serve", plan.manifest.name,
            "--host", "0.0.0.0", "--port", str(CONTAINER_PORT),
            "--model-dir", CONTAINER_MODEL_DIR, "--log-level", plan.log_level,
        ],
        "environment": environment(plan),
        "labels": labels(plan, instance_id),
        "ports": {f"{CONTAINER_PORT}/tcp": (plan.host or "0.0.0.0", plan.port)},
        "volumes": {str(plan.model_dir): {"bind": CONTAINER_MODEL_DIR, "mode": "rw"}},
        "extra_hosts": {HOST_GATEWAY: "host-gateway"},
        "init": True,  # a real PID 1 passes SIGTERM on, so stop is quick
        "detach": True,
    }  # fmt: skip
    if plan.device.startswith("cuda:"):
        index = plan.device.partition(":")[2]
        config["device_requests"] = [DeviceRequest(device_ids=[index], capabilities=[["gpu"]])]
    user = host_user()
    if user:
        # the host user owns the bind-mounted model folder; its HOME is not in the image
        config["user"] = user
        config["environment"]["HOME"] = "/tmp"
    return config


def host_user() -> str | None:
    """Who the server runs as: the panel's user, so the files it writes in the model folder
    are the user's; the image's own non-root user when the panel runs as root (or on Windows).
    """
    if not hasattr(os, "getuid") or os.getuid() == 0:
        return None
    return f"{os.getuid()}:{os.getgid()}"


def prepare_model_dir(path: Path) -> None:
    """Versions live on the host, so they outlive every container and local launches share them.

    The server runs as the host user (``host_user``), except when the panel runs as root:
    then it keeps the image's non-root user, who must be able to write the folder.
    """
    path.mkdir(parents=True, exist_ok=True)
    if hasattr(os, "getuid") and os.getuid() == 0:
        os.chown(path, IMAGE_UID, IMAGE_UID)


@dataclass(frozen=True)
class FoundContainer:
    """A container of ours still running: what the registry needs to watch it again."""

    container_id: str
    instance_id: str
    spec: LaunchSpec
    plan: LaunchPlan


def find_running_containers() -> list[FoundContainer]:
    """Our running containers, with the spec they were launched with (blocking)."""
    client = connect()
    found = []
    for container in client.containers.list(filters={"label": INSTANCE_LABEL}):
        adopted = _from_container(container.attrs)
        if adopted is not None:
            found.append(adopted)
    return found


def _from_container(attrs: dict) -> FoundContainer | None:
    config = attrs["Config"]
    container_labels = config.get("Labels") or {}
    try:
        manifest = get_manifest(container_labels[MODEL_LABEL])
        saved = json.loads(container_labels[SPEC_LABEL])
    except (KeyError, ValueError, UnknownModel):
        return None  # made by another version of the launcher: leave it alone
    env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    params = {**saved["params"], **_secrets(manifest, env)}
    auth = (env["BASIC_AUTH_USER"], env["BASIC_AUTH_PASS"]) if env.get("BASIC_AUTH_USER") else None
    model_dir = Path(saved["model_dir"])
    spec = LaunchSpec(
        model=manifest.name, params=params, host=saved["host"], port=saved["port"],
        device=saved["device"], debug=saved["debug"], basic_auth=auth, model_dir=model_dir,
        runtime="docker", image=saved["image"],
    )  # fmt: skip
    plan = LaunchPlan(
        manifest=manifest, params=manifest.validate_params(params, allow_unknown=True),
        host=spec.host, port=spec.port, device=spec.device,
        log_level="debug" if spec.debug else "info", basic_auth=auth, model_dir=model_dir,
        image=spec.image or config["Image"], build_image=False,
    )  # fmt: skip
    return FoundContainer(attrs["Id"], container_labels[INSTANCE_LABEL], spec, plan)


def _secrets(manifest: Manifest, env: dict[str, str]) -> dict[str, str]:
    return {
        p.name: env[p.name]
        for p in manifest.parameters
        if p.type is ParamType.SECRET and p.name in env
    }
