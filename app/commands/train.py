"""``main.py train --backend URL``: start a training job on a model server, optionally follow it.

Exit status: 0 when the job is queued (without ``--follow``) or done; 1 when it failed or the
server refused; 2 for bad arguments; 3 when it was cancelled or had nothing to learn from.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from app.services.training_client import Job, TrainingClient, TrainingError

HELP = "train a running model server now (POST /jobs) and print its metrics as they come"
POLL_S = 1.0
EXIT = {"done": 0, "failed": 1, "cancelled": 3, "skipped": 3}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", required=True, metavar="URL", help="the model server")
    parser.add_argument(
        "--project", default=None, help="Label Studio project id (needed when it serves several)"
    )
    parser.add_argument(
        "--follow", action="store_true", help="print progress and metrics until the job ends"
    )
    parser.add_argument("--basic-auth-user", default=os.environ.get("BASIC_AUTH_USER") or None)
    parser.add_argument("--basic-auth-pass", default=os.environ.get("BASIC_AUTH_PASS") or None)


def run(args: argparse.Namespace) -> int:
    if bool(args.basic_auth_user) != bool(args.basic_auth_pass):
        print("error: --basic-auth-user and --basic-auth-pass go together", file=sys.stderr)
        return 2
    auth = (args.basic_auth_user, args.basic_auth_pass) if args.basic_auth_user else None
    try:
        return asyncio.run(_train(args.backend, args.project, args.follow, auth))
    except KeyboardInterrupt:
        print("stopped following; the job keeps running on the server", file=sys.stderr)
        return 130


async def _train(url: str, project: str | None, follow: bool, auth) -> int:
    client = TrainingClient(url, auth)
    try:
        job, joined = await client.start(project)
        note = " (joined the job already waiting)" if joined else ""
        print(f"job {job.id} {job.state} for project {job.project}{note}", flush=True)
        if not follow:
            return 0
        return await _follow(client, job)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await client.aclose()


async def _follow(client: TrainingClient, job: Job) -> int:
    printed, state = 0, job.state
    while True:
        job = await client.job(job.id)
        for point in job.history[printed:]:
            print(f"step {point.step:>6}  {point.name:<16} {point.value:.4f}", flush=True)
        printed = len(job.history)
        if job.state != state:
            state = job.state
            if not job.finished:
                print(f"job {job.id} {state}", flush=True)
        if job.finished:
            break
        await asyncio.sleep(POLL_S)
    print(_summary(job), flush=True)
    return EXIT.get(job.state, 1)


def _summary(job: Job) -> str:
    seconds = job.duration()
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    if job.state == "done":
        scores = ", ".join(f"{k} {v:.4g}" for k, v in sorted(job.final_metrics().items()))
        return f"job {job.id} done{took}: version {job.version} ({scores or 'no metrics'})"
    return f"job {job.id} {job.state}{took}" + (f": {job.error}" if job.error else "")
