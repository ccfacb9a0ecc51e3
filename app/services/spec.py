"""What the user asked for (LaunchSpec) and the checked, concrete plan a runtime executes.

Every refusal happens here, before a process exists, and names the form field at fault, so the
panel can point at it and the CLI can print it: a bad parameter, a port in use, a network
address without a password, a device that does not exist.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.services import paths, ports
from backends.sdk.manifest import Manifest, ParameterError

_DEVICE_RE = re.compile(r"^cuda:(\d+)$")
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


class LaunchRefused(ValueError):
    """The launch cannot start; ``str(exc)`` says why and what to do, ``field`` says where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class LaunchSpec:
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int | None = None  # None: a free port is picked at launch and kept across restarts
    device: str = "cpu"  # "cpu" | "cuda:0" | ...
    debug: bool = False
    basic_auth: tuple[str, str] | None = None
    model_dir: Path | None = None
    auto_restart: bool = False
    runtime: str = "local"  # "local" | "docker"
    image: str | None = None
    build_image: bool = False


@dataclass(frozen=True)
class LaunchPlan:
    """A spec with every choice made: validated parameters, a port, a log level, a folder."""

    manifest: Manifest
    params: dict[str, Any]
    host: str
    port: int
    device: str
    log_level: str
    basic_auth: tuple[str, str] | None
    model_dir: Path
    image: str | None
    build_image: bool

    @property
    def url(self) -> str:
        """Where this machine reaches the server."""
        return f"http://{local_host(self.host)}:{self.port}"

    @property
    def network_url(self) -> str:
        """Where other machines reach it (Label Studio elsewhere); the local URL if not exposed."""
        if self.host in _WILDCARD_HOSTS:
            return f"http://{ports.lan_address()}:{self.port}"
        return self.url

    def param_env(self) -> dict[str, str]:
        """Parameters as environment variables: never on a command line, where ``ps`` shows them."""
        env = {}
        for name, value in self.params.items():
            parameter = self.manifest.parameter(name)
            env[name] = parameter.to_env(value) if parameter else str(value)
        return env

    def device_env(self) -> dict[str, str]:
        match = _DEVICE_RE.match(self.device)
        return {"CUDA_VISIBLE_DEVICES": match.group(1) if match else ""}

    def auth_env(self) -> dict[str, str]:
        if not self.basic_auth:
            return {}
        user, password = self.basic_auth
        return {"BASIC_AUTH_USER": user, "BASIC_AUTH_PASS": password}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_host(host: str) -> str:
    """The address this machine uses to reach a server bound to ``host``."""
    if host in _WILDCARD_HOSTS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def resolve(spec: LaunchSpec, manifest: Manifest, port: int | None = None) -> LaunchPlan:
    """Check the spec and fill in the blanks; ``port`` is the one kept from an earlier start."""
    try:
        params = manifest.validate_params(spec.params)
    except ParameterError as exc:
        raise LaunchRefused(f"{exc.name}: {exc.problem}", field=exc.name) from None
    if not _DEVICE_RE.match(spec.device) and spec.device != "cpu":
        raise LaunchRefused(
            f"Unknown device {spec.device!r}: use cpu or cuda:N (cuda:0 is the first GPU).",
            field="device",
        )
    if spec.basic_auth and not all(spec.basic_auth):
        raise LaunchRefused("Basic auth needs both a user name and a password.", "basic_auth")
    if not is_loopback(spec.host) and not spec.basic_auth:
        raise LaunchRefused(
            f"Exposing the server on the network ({spec.host}) lets anyone who can reach this "
            "machine use it: set a basic-auth user and password first.",
            field="basic_auth",
        )
    bind_host = spec.host or "0.0.0.0"
    if spec.port is None:  # keep the earlier port (Label Studio knows it) while it is free
        free = port is not None and not ports.port_in_use(bind_host, port)
        chosen = port if free else ports.free_port(bind_host)
    elif not 1 <= spec.port <= 65535:
        raise LaunchRefused(f"Port {spec.port} is not a valid port (1-65535).", field="port")
    elif ports.port_in_use(bind_host, spec.port):
        raise LaunchRefused(
            f"Port {spec.port} on {spec.host} is already in use by another program: choose "
            "another port, or leave the port empty to pick a free one.",
            field="port",
        )
    else:
        chosen = spec.port
    return LaunchPlan(
        manifest=manifest,
        params=params,
        host=spec.host,
        port=chosen,
        device=spec.device,
        log_level="debug" if spec.debug else "info",
        basic_auth=spec.basic_auth,
        model_dir=Path(spec.model_dir or paths.data_dir() / "models" / manifest.name),
        image=spec.image,
        build_image=spec.build_image,
    )
