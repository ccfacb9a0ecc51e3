"""Real model servers launched as child processes and watched through their whole life."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from app.services import local_runtime
from app.services import spec as spec_module
from app.services.instances import Instance, InstanceState, LaunchRefused, RestartPolicy
from app.services.registry import InstanceRegistry
from app.services.spec import LaunchSpec

MODEL = "interactive_substring_matching"


def run(coroutine, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_launch_ready_logs_test_request_stop(tmp_path: Path):
    async def scenario() -> None:
        registry = InstanceRegistry()
        instance = await registry.launch(LaunchSpec(MODEL, model_dir=tmp_path), poll_interval=0.2)
        states: list[InstanceState] = []
        instance.state_changed.connect(lambda i: states.append(i.state))
        assert registry.instances == [instance] and instance.state is InstanceState.STARTING
        await until(lambda: instance.state is InstanceState.READY, "ready")
        await until(lambda: any("startup complete" in x.text for x in instance.logs.lines()), "log")
        assert instance.logs.lines()[0].source == "launcher"
        assert instance.uptime is not None and instance.url.startswith("http://127.0.0.1:")

        result = await instance.test_request()
        assert result.ok, result.summary
        assert "1 region predicted (1 PER)" in result.summary
        await until(lambda: instance.stats.predictions_total == 1, "prediction counted")
        assert instance.stats.memory_bytes > 10_000_000
        assert instance.stats.model_version == "SubstringMatcher-v0"

        pid = instance.pid
        await registry.stop_all()
        assert states[-2:] == [InstanceState.STOPPING, InstanceState.STOPPED]
        assert instance.pid is None and gone(pid)
        assert (await instance.test_request()).summary == "The server is stopped; start it first."

    run(scenario())


def test_killed_from_outside_is_crashed_with_exit_code_and_last_lines(tmp_path: Path):
    async def scenario() -> None:
        instance = Instance(LaunchSpec(MODEL, model_dir=tmp_path), poll_interval=0.2)
        await instance.start()
        await until(lambda: instance.state is InstanceState.READY, "ready")
        os.kill(instance.pid, signal.SIGKILL)
        await until(lambda: instance.state is InstanceState.CRASHED, "crashed")
        assert instance.exit_code == -9
        assert instance.failure.startswith("The server was killed by SIGKILL")
        assert any("Uvicorn running" in line.text for line in instance.last_lines)

    run(scenario())


def test_auto_restart_brings_it_back_and_gives_up_after_quick_failures(tmp_path: Path):
    async def scenario() -> None:
        policy = RestartPolicy(first_delay=0.1, max_quick_failures=2)
        spec = LaunchSpec(MODEL, model_dir=tmp_path, auto_restart=True)
        instance = Instance(spec, restart_policy=policy, poll_interval=0.2)
        await instance.start()
        await until(lambda: instance.state is InstanceState.READY, "ready")
        first_pid, url = instance.pid, instance.url

        os.kill(first_pid, signal.SIGKILL)
        await until(lambda: instance.state is InstanceState.CRASHED, "first crash")
        assert instance.failure.endswith("Restarting in 0.1 s.")
        await until(lambda: instance.state is InstanceState.READY, "ready again")
        assert instance.pid != first_pid and instance.url == url and instance.restarts == 1

        os.kill(instance.pid, signal.SIGKILL)
        await until(lambda: instance.state is InstanceState.CRASHED, "second crash")
        assert instance.failure.endswith("Gave up after 2 quick failures.")
        await asyncio.sleep(0.5)
        assert instance.state is InstanceState.CRASHED and instance.restarts == 1

    run(scenario())


def test_a_port_taken_at_bind_time_is_a_clear_failure(tmp_path: Path, monkeypatch):
    """The pre-launch check is bypassed (patched) to reach the race it cannot catch: the port
    is taken between the check and the server's bind. The server and its bind error are real."""
    monkeypatch.setattr(spec_module.ports, "port_in_use", lambda host, port: False)

    async def scenario(port: int) -> None:
        spec = LaunchSpec(MODEL, port=port, model_dir=tmp_path, auto_restart=True)
        instance = Instance(spec, poll_interval=0.2)
        await instance.start()
        await until(lambda: instance.state is InstanceState.CRASHED, "crashed")
        assert instance.failure == (
            f"Port {port} is already in use by another program: choose another port, "
            "or leave the port empty to pick a free one."
        )
        assert instance.exit_code > 0  # uvicorn exits 3 when it cannot bind
        await asyncio.sleep(0.3)
        assert instance.restarts == 0  # restarting cannot free someone else's port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run(scenario(taken.getsockname()[1]))


def test_a_refused_launch_starts_nothing(tmp_path: Path):
    async def scenario() -> None:
        registry = InstanceRegistry()
        bad = LaunchSpec(MODEL, params={"WHOLE_WORDS": "maybe"}, model_dir=tmp_path)
        with pytest.raises(ValueError, match="WHOLE_WORDS: expected true or false, got 'maybe'"):
            await registry.launch(bad)
        assert registry.instances == []
        assert not any(p.info["cmdline"] and str(tmp_path) in " ".join(p.info["cmdline"])
                       for p in psutil.process_iter(["cmdline"]))  # fmt: skip

    run(scenario())


def test_a_model_that_fails_to_load_is_stopped_with_the_reason(tmp_path: Path):
    """A corrupt model folder (the 'active version' pointer is a directory) makes setup fail."""
    (tmp_path / "7" / "versions").mkdir(parents=True)
    (tmp_path / "7" / "active").mkdir()

    async def scenario() -> None:
        spec = LaunchSpec(MODEL, model_dir=tmp_path, auto_restart=True)
        instance = Instance(spec, poll_interval=0.2)
        await instance.start()
        pid = instance.pid
        await until(lambda: instance.state is InstanceState.CRASHED, "crashed")
        assert instance.failure.startswith("The model failed to load: IsADirectoryError")
        assert gone(pid) and instance.restarts == 0

    run(scenario())


def test_exposed_server_with_basic_auth_is_watched_with_its_credentials(tmp_path: Path):
    async def scenario() -> None:
        spec = LaunchSpec(MODEL, host="0.0.0.0", basic_auth=("ann", "pa55"), model_dir=tmp_path)
        instance = Instance(spec, poll_interval=0.2)
        await instance.start()
        try:
            await until(lambda: instance.state is InstanceState.READY, "ready")
            assert instance.url.startswith("http://127.0.0.1:")
            assert instance.network_url.endswith(f":{instance.url.rsplit(':', 1)[1]}")
            assert (await instance.test_request()).ok
            cmdline = " ".join(psutil.Process(instance.pid).cmdline())
            assert "pa55" not in cmdline and "--host 0.0.0.0" in cmdline
        finally:
            await instance.stop()

    run(scenario())


def test_a_server_slow_to_stop_is_killed_after_the_timeout(tmp_path: Path):
    async def scenario() -> None:
        instance = Instance(LaunchSpec(MODEL, model_dir=tmp_path), stop_timeout=0.001)
        await instance.start()
        await until(lambda: instance.state is InstanceState.READY, "ready")
        pid = instance.pid
        await instance.stop()
        assert instance.state is InstanceState.STOPPED and instance.exit_code == -9
        said = [line.text for line in instance.logs.lines() if line.source == "launcher"]
        assert said[-2:] == ["Not stopped after 0.001 s; killing it.", "Stopped (exit code -9)."]
        assert gone(pid)

    run(scenario())


def test_a_server_that_cannot_be_spawned_is_crashed_with_the_reason(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the model folder should go")

    async def scenario() -> None:
        instance = Instance(LaunchSpec(MODEL, model_dir=blocker / "models", auto_restart=True))
        await instance.start()
        assert instance.state is InstanceState.CRASHED and instance.pid is None
        assert instance.failure.startswith("The server could not be started: [Errno 20]")
        assert instance.failure.endswith("not-a-folder/models'.")

    run(scenario())


def test_adopted_server_is_watched_and_released_server_keeps_running(tmp_path: Path):
    """A panel restart's two halves, on a local process: let go of a server, then adopt one."""
    spec = LaunchSpec(MODEL, model_dir=tmp_path)

    async def scenario() -> None:
        plan = spec_module.resolve(spec, Instance(spec).manifest)
        server = await local_runtime.RUNTIME.start(plan)
        try:
            registry = InstanceRegistry()
            instance = registry.adopt(spec, server, plan, poll_interval=0.2)
            assert registry.instances == [instance] and instance.url == plan.url
            await until(lambda: instance.state is InstanceState.READY, "ready")
            assert instance.logs.lines()[0].text == (
                f"Re-attached to the running {MODEL} server at {plan.url}"
            )
            assert (await instance.test_request()).ok
            with pytest.raises(LaunchRefused, match="already running"):
                instance.adopt(server, plan)

            await registry.stop_all(leave_containers=True)  # a local server stops regardless
            assert instance.state is InstanceState.STOPPED and gone(server.pid)

            server = await local_runtime.RUNTIME.start(plan)
            # marked as a container: the only kind the registry lets go of instead of stopping
            again = registry.adopt(dataclasses.replace(spec, runtime="docker"), server, plan)
            await until(lambda: again.state is InstanceState.READY, "ready again")
            await registry.stop_all(leave_containers=True)
            assert "Left running" in again.logs.lines()[-1].text
            assert again.state is InstanceState.READY and again.pid is None
            assert not gone(server.pid)  # released, not stopped: it still answers
            async with httpx.AsyncClient(base_url=plan.url) as client:
                assert (await client.get("/health")).status_code == 200
        finally:
            await server.kill()
            await server.wait()

    run(scenario())
