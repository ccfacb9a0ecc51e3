"""Launch-to-ready time of one model as a local process and as a container, side by side.

Both go through the panel's services (InstanceRegistry.launch until the state is ready, then
stop), alternating local and container in every round so a busy machine slows both alike. The
image must be present or buildable (it is built once, untimed). Needs a Docker engine:
DOCKER_HOST, or the one scripts/docker-engine.sh started (.cache/docker/env).

    python bench/launch.py                 # 5 rounds of sklearn_text_classifier
    python bench/launch.py --quick         # CI smoke: one round each
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import docker_images  # noqa: E402
from app.services.docker_engine import DockerFailure, connect  # noqa: E402
from app.services.instances import InstanceState  # noqa: E402
from app.services.registry import InstanceRegistry  # noqa: E402
from app.services.spec import LaunchSpec  # noqa: E402
from backends.sdk.catalog import get_manifest  # noqa: E402

ENV_FILE = ROOT / ".cache" / "docker" / "env"


def load_engine_env() -> None:
    """Use the repository's engine when none is configured, as the Docker tests do."""
    if os.environ.get("DOCKER_HOST") or not ENV_FILE.exists():
        return
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            os.environ.setdefault(key.strip(), value.strip())


def ensure_image(model: str) -> str:
    manifest = get_manifest(model)
    client = connect()
    tag = docker_images.image_tag(manifest)
    if not docker_images.image_exists(client, tag):
        print(f"building {tag} (once, not timed) ...", flush=True)
        docker_images.build_image(
            client, manifest, docker_images.BuildOptions.for_extra(manifest.extra)
        )
    return tag


async def launch_to_ready(spec: LaunchSpec, timeout: float = 180) -> tuple[float, float]:
    """Seconds from launch to ready, and from stop to stopped."""
    registry = InstanceRegistry()
    started = time.perf_counter()
    instance = await registry.launch(spec, poll_interval=0.2)
    while instance.state is not InstanceState.READY:
        if not instance.state.running or time.perf_counter() - started > timeout:
            raise RuntimeError(f"{spec.runtime} launch did not get ready: {instance.failure}")
        await asyncio.sleep(0.01)
    ready = time.perf_counter() - started
    stopping = time.perf_counter()
    await instance.stop()
    return ready, time.perf_counter() - stopping


async def bench(model: str, image: str, rounds: int, data_dir: Path) -> dict[str, list]:
    results: dict[str, list] = {"local": [], "docker": []}
    for round_number in range(rounds):
        for runtime in ("local", "docker"):
            spec = LaunchSpec(
                model, runtime=runtime, image=image if runtime == "docker" else None,
                model_dir=data_dir / runtime,
            )  # fmt: skip
            ready, stop = await launch_to_ready(spec)
            results[runtime].append((ready, stop))
            print(f"round {round_number + 1} {runtime:6} ready {ready:6.2f} s  stop {stop:5.2f} s")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sklearn_text_classifier")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one round each (CI smoke)")
    args = parser.parse_args()
    load_engine_env()
    try:
        image = ensure_image(args.model)
    except DockerFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as data_dir:
        results = asyncio.run(bench(args.model, image, rounds, Path(data_dir)))
    ready = {name: statistics.median(r for r, _ in rows) for name, rows in results.items()}
    stop = {name: statistics.median(s for _, s in rows) for name, rows in results.items()}
    print(f"\n{args.model}, median of {rounds} round(s)")
    print(f"{'':8}{'launch->ready':>15}{'stop':>10}")
    for name in ("local", "docker"):
        print(f"{name:8}{ready[name]:13.2f} s{stop[name]:8.2f} s")
    print(f"container / local: ready x{ready['docker'] / ready['local']:.2f}, "
          f"stop x{stop['docker'] / stop['local']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
