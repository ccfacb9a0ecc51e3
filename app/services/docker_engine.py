"""Reaching the Docker engine, and turning its failures into sentences a user can act on.

The docker SDK reports an absent engine as ``Error while fetching server API version:
('Connection aborted.', FileNotFoundError(...))``; the panel says instead where it looked and
what to do. Every call into the SDK is blocking: callers run it in ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import re

import docker
from docker.errors import APIError, DockerException, ImageNotFound

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
NO_GPU = "this Docker engine has no GPU support: install the NVIDIA container toolkit"


class DockerFailure(OSError):
    """The engine refused an action; ``str(exc)`` is the plain sentence, ``cause`` the original.

    An OSError, as a process that cannot be spawned is, so an Instance reports it the same way.
    """

    def __init__(self, message: str, cause: Exception | None = None):
        super().__init__(message)
        self.cause = cause


class DockerUnavailable(DockerFailure):
    """No usable engine; ``str(exc)`` says where the panel looked and what to do."""


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect(timeout: float = 30) -> docker.DockerClient:
    """A client for the engine of ``DOCKER_HOST`` (or the default socket), checked with a ping."""
    address = engine_address()
    try:
        client = docker.DockerClient(base_url=address, timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailable(_unavailable_sentence(address, exc)) from None
    return client


def _unavailable_sentence(address: str, exc: Exception) -> str:
    text = str(exc)
    socket_path = address.removeprefix("unix://")
    if "PermissionError" in text or "Permission denied" in text:
        return (
            f"Permission denied on the Docker socket {socket_path}: add your user to the "
            "'docker' group (sudo usermod -aG docker $USER, then log in again), or point "
            "DOCKER_HOST at an engine you may use."
        )
    where = f"DOCKER_HOST={address}" if os.environ.get("DOCKER_HOST") else f"{address} (default)"
    return (
        f"No Docker engine answers at {where}. Start Docker (Docker Desktop, or "
        "`sudo systemctl start docker`), or set DOCKER_HOST to your engine's socket."
    )


def missing_image(image: str) -> str:
    return (
        f"The image {image} is not on this Docker engine: build it (Build image in the panel, "
        "--build on the command line) or pull it"
    )


_PORT_TAKEN = re.compile(r"port is already allocated|address already in use", re.IGNORECASE)
_NO_GPU = re.compile(r"could not select device driver|unknown or invalid runtime name: nvidia")


def explain(exc: Exception, *, image: str = "", host: str = "", port: int | None = None) -> str:
    """One sentence for an engine error met while creating or starting a container."""
    if isinstance(exc, ImageNotFound):
        return missing_image(image)
    text = exc.explanation if isinstance(exc, APIError) and exc.explanation else str(exc)
    if _NO_GPU.search(text):
        return f"Cannot use the GPU: {NO_GPU}"
    if _PORT_TAKEN.search(text):
        return (
            f"Port {port} on {host} is already taken by another program or container: choose "
            "another port, or leave it empty to pick a free one"
        )
    if isinstance(exc, DockerException) and "Connection aborted" in text:
        return _unavailable_sentence(engine_address(), exc)
    return f"Docker refused: {text}"
