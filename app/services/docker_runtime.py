"""Run ``main.py serve`` in a container, watched by the same Instance as a local process.

The container is the engine's, not a child of the panel: it survives the panel (found again
by ``docker_containers.find_running_containers``), its logs are read over the API, and it is
removed once it has exited and its last lines are read, so no stopped or half-created
container is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from docker.errors import APIError, DockerException, NotFound

from app.services import docker_containers, docker_images
from app.services.docker_engine import (
    DockerFailure,
    DockerUnavailable,
    connect,
    explain,
    missing_image,
)
from app.services.runtime import OnLine, ProcessTreeUsage, ResourceUsage
from app.services.spec import LaunchPlan, LaunchRefused, LaunchSpec
from backends.sdk.catalog import UnknownModel, get_manifest
from backends.sdk.manifest import Manifest

if TYPE_CHECKING:
    from app.services.instances import Instance
    from app.services.registry import InstanceRegistry

_POLL_SECONDS = 0.25
_LOG_DRAIN_SECONDS = 2.0
_ADOPTED_LOG_TAIL = 200


class DockerContainer:
    """A started container: its output, its end, and stopping it (RunningServer protocol)."""

    def __init__(self, client, container_id: str, *, preamble: Iterable[str] = (), tail="all"):
        self._client = client
        self.id = container_id
        self._preamble = list(preamble)
        self._tail = tail
        self._streams: list = []
        self._detached = False
        self._output_done = asyncio.Event()
        self._usage = ProcessTreeUsage()
        self.pid: int | None = self._inspect()["State"].get("Pid") or None
        _watching.add(self)

    def _inspect(self) -> dict:
        return self._client.api.inspect_container(self.id)

    async def pump_output(self, on_line: OnLine) -> None:
        for line in self._preamble:
            on_line("stdout", line)
        loop = asyncio.get_running_loop()

        def forward(source: str, raw: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                loop.call_soon_threadsafe(on_line, source, raw)

        try:
            await asyncio.gather(
                asyncio.to_thread(self._read_stream, "stdout", forward),
                asyncio.to_thread(self._read_stream, "stderr", forward),
            )
        except asyncio.CancelledError:
            self.detach()  # the reader threads would block the loop's shutdown otherwise
            raise
        finally:
            self._output_done.set()

    def _read_stream(self, source: str, forward) -> None:
        pending = b""
        with contextlib.suppress(DockerException, OSError, ValueError):
            stream = self._client.api.logs(
                self.id, stdout=source == "stdout", stderr=source == "stderr",
                stream=True, follow=True, tail=self._tail,
            )  # fmt: skip
            self._streams.append(stream)
            if self._detached:
                stream.close()
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    forward(source, line.decode("utf-8", errors="replace"))
        if pending:
            forward(source, pending.decode("utf-8", errors="replace"))

    async def wait(self) -> int:
        """Exit code once the container has stopped (negative for a signal, like a process)."""
        while True:
            try:
                state = (await asyncio.to_thread(self._inspect))["State"]
            except NotFound:
                return -9
            if not state.get("Running") and state.get("Status") != "created":
                break
            await asyncio.sleep(_POLL_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._output_done.wait(), _LOG_DRAIN_SECONDS)
        await asyncio.to_thread(self.remove)
        code = int(state.get("ExitCode") or 0)
        return -(code - 128) if code > 128 else code

    def remove(self) -> None:
        self.detach()
        with contextlib.suppress(NotFound, APIError):
            self._client.api.remove_container(self.id, force=True)

    def detach(self) -> None:
        """Stop reading logs (the panel quits and leaves the container running)."""
        _watching.discard(self)
        self._detached = True
        for stream in self._streams:
            with contextlib.suppress(Exception):
                stream.close()

    async def terminate(self) -> None:
        await self._signal("SIGTERM")

    async def kill(self) -> None:
        await self._signal("SIGKILL")

    async def _signal(self, name: str) -> None:
        with contextlib.suppress(NotFound, APIError):  # 409: it has already stopped
            await asyncio.to_thread(self._client.api.kill, self.id, name)

    async def resource_usage(self) -> ResourceUsage | None:
        """From the host's view of the container's processes, as for a local server."""
        return self._usage.read(self.pid)


class DockerRuntime:
    name = "docker"

    def describe(self, plan: LaunchPlan) -> str:
        image = plan.image or docker_images.image_tag(plan.manifest, _wants_gpu(plan))
        where = f"{plan.host}:{plan.port}"
        return f"Starting container {image} serving {plan.manifest.name} on {where} ({plan.device})"

    async def start(self, plan: LaunchPlan) -> DockerContainer:
        """Build if asked, create and start; raise DockerFailure with a plain sentence.

        A container that was created but could not start (no GPU support, port taken) is
        removed before the error is raised.
        """
        return await asyncio.to_thread(self._start_blocking, plan)

    def _start_blocking(self, plan: LaunchPlan) -> DockerContainer:
        client = connect()
        build_lines: list[str] = []
        image = plan.image or docker_images.image_tag(plan.manifest, _wants_gpu(plan))
        if plan.build_image:
            options = docker_images.BuildOptions.for_extra(plan.manifest.extra, _wants_gpu(plan))
            docker_images.build_image(client, plan.manifest, options,
                                      on_line=build_lines.append, tag=image)  # fmt: skip
        if not docker_images.image_exists(client, image):
            raise DockerFailure(missing_image(image))
        config = docker_containers.run_config(plan, image, uuid.uuid4().hex[:12])
        docker_containers.prepare_model_dir(plan.model_dir)
        container_id = None
        try:
            container_id = client.containers.create(**config).id
            client.api.start(container_id)
            return DockerContainer(client, container_id, preamble=build_lines)
        except (APIError, DockerException) as exc:
            if container_id is not None:
                with contextlib.suppress(DockerException):
                    client.api.remove_container(container_id, force=True)
            message = explain(exc, image=image, host=plan.host, port=plan.port)
            raise DockerFailure(message, exc) from None

    def attach(self, container_id: str) -> DockerContainer:
        """Watch a container started by an earlier panel; its recent log lines come first."""
        return DockerContainer(connect(), container_id, tail=_ADOPTED_LOG_TAIL)


_watching: set[DockerContainer] = set()


def leave_running() -> None:
    """The panel quits without stopping its containers: let go of their log streams.

    A log stream blocks its reader thread until the container ends; closed, the panel's
    process can exit while the containers keep serving (found again at the next start).
    """
    for container in list(_watching):
        container.detach()


async def reattach(registry: InstanceRegistry, **options: Any) -> list[Instance]:
    """At panel start-up: watch again every container of ours that is still running.

    Without a reachable engine there is nothing to re-attach to, and no reason to complain.
    """
    try:
        found = await asyncio.to_thread(docker_containers.find_running_containers)
    except DockerUnavailable:
        return []
    adopted = []
    for item in found:
        server = await asyncio.to_thread(RUNTIME.attach, item.container_id)
        adopted.append(registry.adopt(item.spec, server, item.plan, **options))
    return adopted


async def build(
    manifest: Manifest,
    options: docker_images.BuildOptions,
    on_line: Callable[[str], None],
    on_progress: Callable[[docker_images.BuildProgress], None],
    tag: str | None = None,
) -> str:
    """Build from the event loop: the callbacks run on the loop's thread, as widgets need."""
    loop = asyncio.get_running_loop()

    def blocking() -> str:
        return docker_images.build_image(
            connect(), manifest, options,
            on_line=lambda line: loop.call_soon_threadsafe(on_line, line),
            on_progress=lambda progress: loop.call_soon_threadsafe(on_progress, progress),
            tag=tag,
        )  # fmt: skip

    return await asyncio.to_thread(blocking)


async def build_for_spec(
    spec: LaunchSpec,
    on_line: Callable[[str], None],
    on_progress: Callable[[docker_images.BuildProgress], None],
) -> LaunchSpec:
    """Build the spec's image with a live log, then the spec that runs it (no build at start).

    For the CLI's ``launch --docker --build`` and the panel's Build button: the runtime's own
    build inside ``start`` can only show its log once the container runs.
    """
    try:
        manifest = get_manifest(spec.model)
    except UnknownModel as exc:
        raise LaunchRefused(str(exc), field="model") from None
    cuda = spec.device.startswith("cuda:") and manifest.gpu != "none"
    options = docker_images.BuildOptions.for_extra(manifest.extra, cuda)
    tag = await build(manifest, options, on_line, on_progress, tag=spec.image)
    return dataclasses.replace(spec, image=tag, build_image=False)


def _wants_gpu(plan: LaunchPlan) -> bool:
    return plan.device.startswith("cuda:") and plan.manifest.gpu != "none"


RUNTIME = DockerRuntime()
