"""A real Docker engine for tests: the one DOCKER_HOST names, or scripts/docker-engine.sh.

No engine is a failure, not a skip: a CI run that silently skipped every container test
would report green on a launcher it never ran. The image is built through the services
layer from the local base image and host-built wheels (containers here reach no index);
the engine keeps its layers in .cache/docker, so later runs reuse them.

Shared by tests/docker (through its conftest) and the panel's Docker tests: a module that
imports these fixtures again finds the engine already answering and leaves stopping it to
the copy that started it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from app.services.docker_containers import INSTANCE_LABEL
from app.services.docker_engine import DockerUnavailable, connect
from app.services.docker_runtime import build_for_spec
from app.services.spec import LaunchSpec

REPO = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = REPO / "scripts" / "docker-engine.sh"
ENV_FILE = REPO / ".cache" / "docker" / "env"
MODEL = "sklearn_text_classifier"


def _exports(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            pairs[key.strip()] = value.strip()
    return pairs


def _engine_answers() -> bool:
    if not os.environ.get("DOCKER_HOST"):
        return False
    try:
        connect(timeout=5).close()
    except DockerUnavailable:
        return False
    return True


def _script(*args: str) -> str:
    result = subprocess.run(
        [str(ENGINE_SCRIPT), *args], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"scripts/docker-engine.sh {' '.join(args)} failed (run scripts/setup/docker.sh as "
            f"root to install the engine):\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return result.stderr


@pytest.fixture(scope="session")
def docker_client(tmp_path_factory) -> Iterator[docker.DockerClient]:
    with pytest.MonkeyPatch.context() as patch:
        started_here = False
        if not _engine_answers():
            started_here = "dockerd up" in _script("start")
            for key, value in _exports(ENV_FILE).items():
                patch.setenv(key, value)
        else:  # an engine given by DOCKER_HOST: only the offline build settings come from ours
            for key, value in _exports(ENV_FILE).items() if ENV_FILE.exists() else []:
                if key != "DOCKER_HOST":
                    patch.setenv(key, os.environ.get(key, value))
        patch.setenv("ML_LAUNCHER_DATA_DIR", str(tmp_path_factory.mktemp("launcher-data")))
        try:
            client = connect()
        except DockerUnavailable as exc:
            pytest.fail(f"The Docker tests need an engine: {exc}", pytrace=False)
        if os.environ.get("ML_LAUNCHER_DOCKER_BASE_IMAGE"):  # no registry: the local base
            _script("base-image")
        yield client
        client.close()
        if started_here:  # an engine that was running before stays running
            _script("stop")


@dataclass
class BuiltImage:
    tag: str
    seconds: float
    lines: list[str] = field(default_factory=list)
    steps: list[tuple[int, int]] = field(default_factory=list)


@pytest.fixture(scope="session")
def sklearn_image(docker_client) -> BuiltImage:
    """The sklearn model-server image, built as the panel's Build button and --build do."""
    built = BuiltImage(tag="", seconds=0.0)
    spec = LaunchSpec(MODEL, runtime="docker", build_image=True)
    started = time.monotonic()
    ready = asyncio.run(
        build_for_spec(
            spec,
            on_line=built.lines.append,
            on_progress=lambda progress: built.steps.append((progress.step, progress.total)),
        )
    )
    built.seconds = time.monotonic() - started
    built.tag = ready.image
    return built


@pytest.fixture
def our_containers(docker_client) -> Callable[[], list]:
    """Every container of ours, running or not: what a user would find in `docker ps -a`."""

    def listing() -> list:
        return docker_client.containers.list(all=True, filters={"label": INSTANCE_LABEL})

    yield listing
    for container in listing():  # a failed test must not leak containers into the next
        container.remove(force=True)
