"""Model-server images: their tags, and building them with the log and a progress fraction.

One Dockerfile (packaging/docker/Dockerfile) serves every model family through build
arguments: ``EXTRA`` picks the pyproject extra, ``BASE_IMAGE`` the base (python:3.11-slim by
default, the CUDA base for GPU images, or a local image where no registry is reachable), and
``WHEELHOUSE`` + ``PIP_NO_INDEX`` install from wheels built on the host, for engines whose
containers cannot reach an index. The build context is made here, from the files the
Dockerfile copies, so unrelated files in the checkout never travel to the engine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from app.services.docker_engine import DockerFailure
from backends.sdk.manifest import Manifest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "packaging/docker/Dockerfile"
CUDA_BASE_DOCKERFILE = "packaging/docker/Dockerfile.cuda-base"
CUDA_BASE_IMAGE = "ml-launcher/cuda-base:12.6-py3.11"
CONTEXT_PATHS = ("main.py", "pyproject.toml", "app", "backends", "packaging/docker")
CONTEXT_WHEELHOUSE = "wheelhouse"
# torch from the default index is the CUDA build (GBs of CUDA libraries): CPU images take the
# CPU wheels, which the same version pin accepts (2.13.0+cpu satisfies ==2.13.0)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_STEP = re.compile(r"^Step (\d+)/(\d+) :")
_PULL_FAILED = re.compile(r"registry|pull access denied|manifest unknown|no such host", re.I)
_PULL_HINT = (
    ". The base image could not be pulled: check the network, or set "
    "ML_LAUNCHER_DOCKER_BASE_IMAGE to an image this engine has (any with Python 3.11)"
)


@dataclass(frozen=True)
class BuildOptions:
    base_image: str | None = None  # None: python:3.11-slim, or the CUDA base for GPU images
    wheelhouse: Path | None = None  # a folder of wheels: install from it only, no index
    cuda: bool = False

    @classmethod
    def for_extra(cls, extra: str, cuda: bool = False) -> BuildOptions:
        """Options from the environment, for developers and CI whose containers reach no index.

        ML_LAUNCHER_DOCKER_BASE_IMAGE replaces the public base; ML_LAUNCHER_DOCKER_WHEELHOUSE
        is a folder of per-extra wheel folders, filled by the host's pip when one is missing.
        """
        base = os.environ.get("ML_LAUNCHER_DOCKER_BASE_IMAGE") or None
        root = os.environ.get("ML_LAUNCHER_DOCKER_WHEELHOUSE")
        wheelhouse = None
        if root:
            wheelhouse = Path(root) / (extra or "core")
            if not any(wheelhouse.glob("*.whl")):
                prepare_wheelhouse(extra, wheelhouse)
        return cls(base_image=base, wheelhouse=wheelhouse, cuda=cuda)


@dataclass(frozen=True)
class BuildProgress:
    step: int
    total: int
    text: str

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


def image_tag(manifest: Manifest, cuda: bool = False) -> str:
    repository = manifest.docker_image or f"ml-launcher/{manifest.name}"
    return f"{repository}:{'cuda' if cuda else 'latest'}"


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def local_tags(client: docker.DockerClient, manifest: Manifest) -> list[str]:
    """The model's images already on the engine, for the panel's "use an existing image"."""
    repository = image_tag(manifest).rpartition(":")[0]
    return sorted(tag for image in client.images.list(name=repository) for tag in image.tags)


def build_args(manifest: Manifest, options: BuildOptions) -> dict[str, str]:
    args = {"EXTRA": manifest.extra, "MODEL": manifest.name}
    base = options.base_image or (CUDA_BASE_IMAGE if options.cuda else None)
    if base:
        args["BASE_IMAGE"] = base
    if options.wheelhouse is not None:
        args["WHEELHOUSE"] = CONTEXT_WHEELHOUSE
        args["PIP_NO_INDEX"] = "1"
    elif manifest.extra == "torch" and not options.cuda:
        args["PIP_EXTRA_INDEX_URL"] = TORCH_CPU_INDEX
    return args


def write_context(
    out: IO[bytes], wheelhouse: Path | None = None, root: Path = PROJECT_ROOT
) -> None:
    """The build context as a tar: the code the image runs, and the wheels when offline."""

    def skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        return None if "__pycache__" in parts or info.name.endswith(".pyc") else info

    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in CONTEXT_PATHS:
            tar.add(root / name, arcname=name, filter=skip_caches)
        if wheelhouse is not None:
            tar.add(wheelhouse, arcname=CONTEXT_WHEELHOUSE)
    out.seek(0)


def build_image(
    client: docker.DockerClient,
    manifest: Manifest,
    options: BuildOptions = BuildOptions(),
    *,
    on_line: Callable[[str], None] = lambda line: None,
    on_progress: Callable[[BuildProgress], None] = lambda progress: None,
    tag: str | None = None,
) -> str:
    """Build (layers cached by the engine) and tag the image; blocking, returns the tag.

    ``tag`` defaults to :func:`image_tag`.

    Raises DockerFailure with the last build lines when a step fails.
    """
    if options.cuda and not options.base_image and not image_exists(client, CUDA_BASE_IMAGE):
        _build(client, CUDA_BASE_DOCKERFILE, CUDA_BASE_IMAGE, {}, None, on_line, on_progress)
    tag = tag or image_tag(manifest, options.cuda)
    _build(client, DOCKERFILE, tag, build_args(manifest, options), options.wheelhouse,
           on_line, on_progress)  # fmt: skip
    return tag


def _build(client, dockerfile, tag, args, wheelhouse, on_line, on_progress) -> None:
    recent: list[str] = []
    with tempfile.TemporaryFile() as context:
        write_context(context, wheelhouse)
        try:
            for line in _stream(client, context, dockerfile, tag, args):
                recent = [*recent[-19:], line]
                on_line(line)
                step = _STEP.match(line)
                if step:
                    on_progress(BuildProgress(int(step[1]), int(step[2]), line))
        except (APIError, DockerException) as exc:
            raise DockerFailure(f"Building {tag} failed: {exc}", exc) from None
        except _BuildError as exc:
            hint = _PULL_HINT if _PULL_FAILED.search(str(exc)) else ""
            tail = "\n".join(recent[-10:])
            message = f"Building {tag} failed: {exc}{hint}\n{tail}".rstrip()
            raise DockerFailure(message, exc) from None


class _BuildError(RuntimeError):
    pass


def _stream(client, context, dockerfile, tag, args) -> Iterator[str]:
    chunks = client.api.build(
        fileobj=context,
        custom_context=True,
        dockerfile=dockerfile,
        tag=tag,
        buildargs=args,
        rm=True,
        forcerm=True,  # a failed step leaves no intermediate container behind
        decode=True,
    )
    for chunk in chunks:
        if "error" in chunk:
            raise _BuildError(chunk["error"].strip())
        for line in chunk.get("stream", "").splitlines():
            if line.strip():
                yield line.rstrip()


def prepare_wheelhouse(extra: str, dest: Path, python: str = sys.executable) -> Path:
    """Wheels for an offline image, built by the host's pip (which reaches the index).

    For engines whose containers cannot reach an index (no route, or a TLS-intercepting proxy
    whose certificate only the host trusts). pip's cache makes a second run quick.
    """
    dest.mkdir(parents=True, exist_ok=True)
    from_pyproject = subprocess.run(
        [python, str(PROJECT_ROOT / "packaging/docker/requirements.py"),
         str(PROJECT_ROOT / "pyproject.toml"), extra],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    result = subprocess.run(
        [python, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(dest), *from_pyproject],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise DockerFailure(
            f"pip could not build the wheels for {extra!r}:\n{result.stderr[-2000:]}"
        )
    return dest
