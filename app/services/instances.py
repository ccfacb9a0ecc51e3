"""One launched model server as the panel sees it: a state machine, its logs, its numbers.

starting -> ready (health 200) <-> busy (requests in flight) / training (a job running)
-> stopping -> stopped, or crashed from anywhere when the process exits on its own. The same
Instance drives a local process or a container; only the Runtime differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

import httpx

from app.services import devices, probe, watch
from app.services.events import Signal
from app.services.failures import diagnose
from app.services.logs import BatchedWriter, LineParser, LogBuffer, LogLine
from app.services.metrics import ServerCounters
from app.services.runtime import RunningServer, Runtime, runtime_for
from app.services.spec import LaunchPlan, LaunchRefused, LaunchSpec, resolve
from backends.sdk.catalog import UnknownModel, get_manifest
from backends.sdk.manifest import Manifest

__all__ = ["Instance", "InstanceState", "InstanceStats", "LaunchRefused", "LaunchSpec",
           "RestartPolicy", "Runtime"]  # fmt: skip

_CRASH_TAIL = 30
# The panel's own polling (three requests a second) would bury everything else in the log.
_OWN_POLL_RE = re.compile(r"\bGET /(health|metrics|jobs) 200\b")
_OUTPUT_DRAIN_SECONDS = 2.0


class InstanceState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"
    TRAINING = "training"
    STOPPING = "stopping"
    STOPPED = "stopped"
    CRASHED = "crashed"

    @property
    def running(self) -> bool:
        return self in (self.STARTING, self.READY, self.BUSY, self.TRAINING)


@dataclass
class InstanceStats:
    cpu_percent: float = 0.0
    memory_bytes: int = 0
    gpu_memory_bytes: int | None = None
    requests_per_s: float = 0.0
    errors_total: int = 0
    predictions_total: int = 0
    model_version: str | None = None
    in_flight: int = 0
    queue_depth: int = 0


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0
    max_delay: float = 30.0
    max_quick_failures: int = 5
    quick_seconds: float = 60.0  # a crash sooner than this after start counts as quick

    def delay(self, failures: int) -> float:
        return min(self.first_delay * 2 ** (failures - 1), self.max_delay)


class Instance:
    def __init__(
        self,
        spec: LaunchSpec,
        *,
        restart_policy: RestartPolicy | None = None,
        poll_interval: float = 1.0,
        stop_timeout: float = 10.0,
    ):
        try:
            self.manifest: Manifest = get_manifest(spec.model)
        except UnknownModel as exc:
            raise LaunchRefused(str(exc), field="model") from None
        self.id = uuid.uuid4().hex[:8]
        self.spec = spec
        self.restart_policy = restart_policy or RestartPolicy()
        self.poll_interval = poll_interval
        self.stop_timeout = stop_timeout
        self.state = InstanceState.STOPPED
        self.url = ""
        self.network_url = ""
        self.started_at: float | None = None
        self.pid: int | None = None
        self.exit_code: int | None = None
        self.failure: str | None = None
        self.last_lines: list[LogLine] = []
        self.restarts = 0
        self.logs = LogBuffer()
        self.stats = InstanceStats()
        self.state_changed = Signal()  # emits the Instance
        self.stats_changed = Signal()  # emits the Instance
        self._writer = BatchedWriter(self.logs)
        self._plan: LaunchPlan | None = None
        self._server: RunningServer | None = None
        self._supervisor: asyncio.Task | None = None
        self._restart_task: asyncio.Task | None = None
        self._load_failure: str | None = None
        self._quick_failures = 0

    @property
    def uptime(self) -> float | None:
        if self.started_at is None or not self.state.running:
            return None
        return time.time() - self.started_at

    def _client(self) -> httpx.AsyncClient:
        auth = httpx.BasicAuth(*self.spec.basic_auth) if self.spec.basic_auth else None
        return httpx.AsyncClient(base_url=self.url, auth=auth, timeout=2.0)

    async def start(self) -> None:
        """Check the spec, start the server and return; raise LaunchRefused if it cannot start."""
        if self.state.running or self.state is InstanceState.STOPPING:
            raise LaunchRefused("This server is already running; stop it first.")
        runtime = runtime_for(self.spec.runtime)
        plan = resolve(self.spec, self.manifest, port=self._plan.port if self._plan else None)
        self._plan = plan
        self.url, self.network_url = plan.url, plan.network_url
        self.exit_code, self.failure, self._load_failure = None, None, None
        self.started_at, self.stats = None, InstanceStats()
        self._say(runtime.describe(plan))
        self._set_state(InstanceState.STARTING)
        try:
            server = await runtime.start(plan)
        except OSError as exc:
            reason = str(exc).rstrip(".")
            self._crashed(f"The server could not be started: {reason}.", permanent=True)
            return
        self._watch(server)

    def adopt(self, server: RunningServer, plan: LaunchPlan) -> None:
        """Watch a server that is already running: a container found when the panel starts.

        Its uptime counts from now; its recent log lines arrive through the runtime.
        """
        if self.state.running or self.state is InstanceState.STOPPING:
            raise LaunchRefused("This server is already running; stop it first.")
        self._plan = plan
        self.url, self.network_url = plan.url, plan.network_url
        self.exit_code, self.failure, self._load_failure = None, None, None
        self.stats = InstanceStats()
        self._say(f"Re-attached to the running {plan.manifest.name} server at {self.url}")
        self._set_state(InstanceState.STARTING)
        self._watch(server)

    async def release(self) -> None:
        """Stop watching and leave the server running (the panel quits, a container serves on).

        The state stays what it was last seen: nobody watches any more.
        """
        if self._restart_task is not None:
            self._restart_task.cancel()
            self._restart_task = None
        supervisor = self._supervisor
        if supervisor is None or supervisor.done():
            return
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        self._server, self.pid = None, None
        self._say("Left running; the launcher finds it again at its next start.")
        self._writer.flush()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; also cancels a pending restart."""
        if self._restart_task is not None:
            self._restart_task.cancel()
            self._restart_task = None
            if self._server is None:
                self._say("Automatic restart cancelled.")
                self._set_state(InstanceState.STOPPED)
        server, supervisor = self._server, self._supervisor
        if server is None or supervisor is None or supervisor.done():
            return
        self._set_state(InstanceState.STOPPING)
        await server.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(supervisor), self.stop_timeout)
        except TimeoutError:
            self._say(f"Not stopped after {self.stop_timeout:g} s; killing it.", "WARNING")
            await server.kill()
            await supervisor

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def test_request(self) -> probe.TestResult:
        if not self.state.running:
            return probe.TestResult(False, f"The server is {self.state}; start it first.")
        async with self._client() as client:
            return await probe.test_request(client, self.manifest)

    async def wait_until_stopped(self) -> None:
        """Return when the server is down for good (stopped, or crashed with no restart coming)."""
        while self.state.running or self.state is InstanceState.STOPPING or self._restart_task:
            if self._supervisor is not None and not self._supervisor.done():
                await asyncio.shield(self._supervisor)
            else:
                await asyncio.sleep(0.1)

    # -- inside ---------------------------------------------------------------------------

    def _watch(self, server: RunningServer) -> None:
        self._server, self.pid, self.started_at = server, server.pid, time.time()
        self._supervisor = asyncio.create_task(self._supervise(server))

    async def _supervise(self, server: RunningServer) -> None:
        parsers = {source: LineParser(source) for source in ("stdout", "stderr")}

        def on_line(source: str, raw: str) -> None:
            if self.spec.debug or not _OWN_POLL_RE.search(raw):
                self._writer.write(parsers[source].parse(raw))

        output = asyncio.create_task(server.pump_output(on_line))
        async with self._client() as client:
            poller = asyncio.create_task(self._poll(client, server))
            try:
                code = await server.wait()
            except asyncio.CancelledError:  # released: the server runs on, unwatched
                output.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await output
                raise
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(output, _OUTPUT_DRAIN_SECONDS)
        self._writer.flush()
        self._server, self.pid, self.exit_code = None, None, code
        if self.state is InstanceState.STOPPING:
            self._say(f"Stopped (exit code {code}).")
            self._set_state(InstanceState.STOPPED)
            return
        assert self._plan is not None
        tail = self.logs.tail(_CRASH_TAIL)
        self.last_lines = tail
        if self._load_failure:
            self._crashed(self._load_failure, permanent=True)
            return
        diagnosis = diagnose(code, tail, self.manifest, self._plan.port)
        self._crashed(diagnosis.sentence, permanent=diagnosis.permanent)

    def _crashed(self, sentence: str, *, permanent: bool) -> None:
        ran = time.time() - (self.started_at or time.time())
        if self.spec.auto_restart and not permanent:
            quick = ran < self.restart_policy.quick_seconds
            self._quick_failures = self._quick_failures + 1 if quick else 1
            if self._quick_failures >= self.restart_policy.max_quick_failures:
                sentence += f" Gave up after {self._quick_failures} quick failures."
            else:
                delay = self.restart_policy.delay(self._quick_failures)
                sentence += f" Restarting in {delay:g} s."
                self._restart_task = asyncio.create_task(self._restart_later(delay))
        self.failure = sentence
        self._say(sentence, "ERROR")
        self._set_state(InstanceState.CRASHED)

    async def _restart_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._restart_task = None
        self.restarts += 1
        try:
            await self.start()
        except LaunchRefused as exc:
            self._crashed(str(exc), permanent=True)

    async def _poll(self, client: httpx.AsyncClient, server: RunningServer) -> None:
        previous: ServerCounters | None = None
        while True:
            try:
                previous = await self._poll_once(client, server, previous)
            except Exception as exc:  # a poll must never take the supervisor down with it
                self._say(f"Watching the server failed once: {exc!r}", "WARNING")
            if self._load_failure:
                return
            starting = self.state is InstanceState.STARTING
            await asyncio.sleep(self.poll_interval / 4 if starting else self.poll_interval)

    async def _poll_once(
        self, client: httpx.AsyncClient, server: RunningServer, previous: ServerCounters | None
    ) -> ServerCounters | None:
        health = await watch.read_health(client)
        if health.failed:
            self._load_failure = f"The model failed to load: {health.detail}"
            await server.terminate()
            return previous
        counters = await watch.read_counters(client) if health.up else None
        training = await watch.read_training(client) if health.up else False
        if health.model_version:
            self.stats.model_version = health.model_version
        await self._update_stats(server, counters, previous)
        # A busy server may miss one health check; only a starting one waits for the first.
        if self.state.running and (health.up or self.state is InstanceState.STARTING):
            self._set_state(_state_of(health.up, training, counters))
        return counters or previous

    async def _update_stats(
        self, server: RunningServer, now: ServerCounters | None, before: ServerCounters | None
    ) -> None:
        stats = self.stats
        usage = await server.resource_usage()
        if usage is not None:
            stats.cpu_percent, stats.memory_bytes = usage.cpu_percent, usage.memory_bytes
            if self.spec.device != "cpu":
                stats.gpu_memory_bytes = devices.gpu_memory_of(usage.pids)
        if now is not None:
            stats.requests_per_s = now.rate_since(before)
            stats.errors_total = int(now.errors)
            stats.predictions_total = int(now.predictions)
            stats.in_flight = int(now.in_flight)
            stats.queue_depth = int(now.queue_depth)
        self.stats_changed.emit(self)

    def _set_state(self, state: InstanceState) -> None:
        if state is not self.state:
            self.state = state
            self._writer.flush()  # subscribers see the log lines that explain the new state
            self.state_changed.emit(self)

    def _say(self, text: str, level: str = "INFO") -> None:
        self._writer.write(LogLine(time=time.time(), level=level, text=text, source="launcher"))


def _state_of(up: bool, training: bool, counters: ServerCounters | None) -> InstanceState:
    if not up:
        return InstanceState.STARTING
    if training:
        return InstanceState.TRAINING
    if counters is not None and counters.in_flight > 0:
        return InstanceState.BUSY
    return InstanceState.READY
