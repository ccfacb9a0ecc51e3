"""``main.py launch MODEL``: the panel's Launch button, headless.

Starts the server as a watched child process, prints its state changes and log lines, stops it
on Ctrl-C or SIGTERM, and exits non-zero when the server crashed (1) or could not start (2).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from app.commands.serve import parse_params
from app.services.instances import Instance, InstanceState
from app.services.logs import LogLine
from app.services.registry import InstanceRegistry
from app.services.spec import LaunchRefused, LaunchSpec
from backends.sdk.manifest import ParameterError

HELP = "launch a model server as a watched child process (the panel's Launch button, headless)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name, see `main.py models`")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="model parameter"
    )
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 exposes it (needs auth)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N")
    parser.add_argument("--basic-auth-user", default=os.environ.get("BASIC_AUTH_USER") or None)
    parser.add_argument(
        "--basic-auth-pass",
        default=os.environ.get("BASIC_AUTH_PASS") or None,
        help="better given as BASIC_AUTH_PASS in the environment, where ps cannot see it",
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="where versions are kept")
    parser.add_argument("--debug", action="store_true", help="server log level debug")
    parser.add_argument("--auto-restart", action="store_true", help="restart after a crash")
    parser.add_argument("--docker", action="store_true", help="run in a container instead")
    parser.add_argument("--image", default=None, help="with --docker: the image tag")
    parser.add_argument("--build", action="store_true", help="with --docker: build the image")


def run(args: argparse.Namespace) -> int:
    try:
        params = parse_params(args.param)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bool(args.basic_auth_user) != bool(args.basic_auth_pass):
        print("error: --basic-auth-user and --basic-auth-pass go together", file=sys.stderr)
        return 2
    spec = LaunchSpec(
        model=args.model,
        params=params,
        host=args.host,
        port=args.port,
        device=args.device,
        debug=args.debug,
        basic_auth=(args.basic_auth_user, args.basic_auth_pass) if args.basic_auth_user else None,
        model_dir=args.model_dir,
        auto_restart=args.auto_restart,
        runtime="docker" if args.docker else "local",
        image=args.image,
        build_image=args.build,
    )
    return asyncio.run(_launch(spec))


async def _launch(spec: LaunchSpec) -> int:
    registry = InstanceRegistry()
    try:
        if spec.runtime == "docker" and spec.build_image:
            spec = await _build(spec)
        instance = await registry.launch(spec)
    except (LaunchRefused, OSError) as exc:  # OSError: the engine's DockerFailure
        print(f"error: {exc}", file=sys.stderr)
        return 2
    instance.state_changed.connect(_print_state)
    instance.logs.appended.connect(_print_lines)
    _print_state(instance)
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupted.set)
    done = asyncio.create_task(instance.wait_until_stopped())
    interrupt = asyncio.create_task(interrupted.wait())
    await asyncio.wait({done, interrupt}, return_when=asyncio.FIRST_COMPLETED)
    interrupt.cancel()
    if not done.done():
        await registry.stop_all()
        await done
    return 1 if instance.state is InstanceState.CRASHED else 0


async def _build(spec: LaunchSpec) -> LaunchSpec:
    """Build the image first, its log printed as it comes (a build inside the launch would
    only show its log once the container runs)."""
    from app.services import docker_runtime  # the docker SDK, only for --docker

    print(f"==> building the image for {spec.model}", flush=True)
    return await docker_runtime.build_for_spec(
        spec, on_line=lambda line: print(line, flush=True), on_progress=lambda progress: None
    )


def _print_state(instance: Instance) -> None:
    where = f" at {instance.network_url}" if instance.state is InstanceState.READY else ""
    why = f": {instance.failure}" if instance.state is InstanceState.CRASHED else ""
    print(f"==> {instance.manifest.name} {instance.state}{where}{why}", flush=True)


def _print_lines(lines: list[LogLine]) -> None:
    for line in lines:
        print(line.text)
    sys.stdout.flush()
