"""``main.py preannotate``: pre-annotate a whole project through a model server, with progress."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from app.commands.connect import (
    add_basic_auth_arguments,
    add_studio_arguments,
    basic_auth_from,
    studio_from,
)
from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.preannotate import JobOptions, PreannotateJob, Progress

HELP = (
    "pre-annotate every task of a project that has no prediction from the model's current version"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_studio_arguments(parser)
    parser.add_argument("--project", type=int, required=True, help="project id")
    parser.add_argument("--backend", required=True, metavar="URL", help="model server URL")
    parser.add_argument("--chunk", type=int, default=50, help="tasks per /predict request")
    parser.add_argument("--concurrency", type=int, default=4, help="/predict requests in flight")
    add_basic_auth_arguments(parser)


def progress_line(progress: Progress, width: int = 30) -> str:
    total = progress.total or 0
    finished = progress.done + progress.failed
    filled = int(width * finished / total) if total else width
    eta = f"{progress.eta_s:.0f}s" if progress.eta_s is not None else "?"
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {finished}/{total} "
        f"{progress.rate:.0f} tasks/s ETA {eta} failed {progress.failed}"
    )


async def _main(args: argparse.Namespace) -> int:
    options = JobOptions(chunk_size=args.chunk, concurrency=args.concurrency)
    job = PreannotateJob(
        studio_from(args),
        args.project,
        args.backend,
        options=options,
        basic_auth=basic_auth_from(args),
        on_progress=lambda p: print("\r" + progress_line(p), end="", file=sys.stderr, flush=True),
    )
    with contextlib.suppress(NotImplementedError):  # Ctrl-C cancels; stored work is kept
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, job.cancel)
    result = await job.run()
    print(file=sys.stderr)
    verb = "Cancelled after storing" if result.cancelled else "Stored"
    print(
        f"{verb} {result.stored} predictions (model version {result.model_version}) in "
        f"{result.elapsed_s:.1f} s, {result.rate:.0f} tasks/s."
    )
    for failure in result.failures[:20]:
        print(f"  task {failure.task_id}: {failure.reason}")
    if len(result.failures) > 20:
        print(f"  ... and {len(result.failures) - 20} more failed tasks")
    if result.cancelled:
        print("Run the same command again to continue where it stopped.")
        return 130
    return 1 if result.failures else 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_main(args))
    except (StudioError, ValueError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
