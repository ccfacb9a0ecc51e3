"""Which address each side must use: Label Studio calling the model, the model calling back.

"localhost" means a different machine depending on who says it: for a Label Studio in Docker
it is the container itself, so the model is ``host.docker.internal``; for a Label Studio on
another machine it is that machine, so the model needs this machine's network address (and
must listen on the network). These guesses can always be overridden by the user.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

import psutil

from app.services import ports

DOCKER_HOST_ALIAS = "host.docker.internal"


class StudioLocation(StrEnum):
    THIS_MACHINE = "this machine"
    DOCKER = "Docker on this machine"
    REMOTE = "another machine"


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def is_local_host(host: str) -> bool:
    if host in ("localhost", "", "0.0.0.0", "::"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guess_location(studio_url: str) -> StudioLocation:
    """Local URL + a ``docker-proxy`` on its port means Label Studio runs in a container."""
    if not is_local_host(_host(studio_url)):
        return StudioLocation.REMOTE
    port = urlsplit(studio_url).port or 80
    return StudioLocation.DOCKER if _docker_publishes(port) else StudioLocation.THIS_MACHINE


def _docker_publishes(port: int) -> bool:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return conn.pid is not None and psutil.Process(conn.pid).name() == "docker-proxy"
    except (psutil.Error, OSError):
        pass  # not allowed to look: assume a plain process
    return False


def _with_host(url: str, host: str) -> str:
    parts = urlsplit(url)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def model_url_for_studio(model_url: str, location: StudioLocation) -> str:
    """The model server's URL as Label Studio at ``location`` can reach it."""
    if location is StudioLocation.THIS_MACHINE:
        return model_url.rstrip("/")
    if location is StudioLocation.DOCKER:
        return _with_host(model_url, DOCKER_HOST_ALIAS)
    return _with_host(model_url, ports.lan_address())


def studio_url_for_model(studio_url: str, model_runtime: str) -> str:
    """Label Studio's URL as the model server reaches it (a model in Docker: not localhost)."""
    if model_runtime == "docker" and is_local_host(_host(studio_url)):
        return _with_host(studio_url, DOCKER_HOST_ALIAS)
    return studio_url.rstrip("/")


def listening_problem(model_host: str, location: StudioLocation) -> str | None:
    """A sentence when the model listens only on loopback but Label Studio is elsewhere."""
    if location is StudioLocation.THIS_MACHINE or not is_local_host(model_host):
        return None
    if model_host in ("0.0.0.0", "::"):
        return None
    where = "in Docker" if location is StudioLocation.DOCKER else "on another machine"
    return (
        f"Label Studio runs {where}, but the model server listens only on {model_host}. "
        "Restart it listening on the network (host 0.0.0.0, with a basic-auth password)."
    )
