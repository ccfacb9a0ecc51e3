"""Pre-annotating a project: our job against Label Studio's own "Retrieve predictions".

Same machine, same run, same model server (a trained sklearn_text_classifier), two projects
with identical tasks: one pre-annotated by ``PreannotateJob`` (chunks, concurrency, bulk
import), the other by Label Studio's Data Manager action (one synchronous /predict with every
task, then one database commit per prediction). Prints tasks/s of each and the ratio.

    python bench/preannotate.py                  # 5,000 tasks; starts Label Studio itself
    python bench/preannotate.py --quick          # ~300 tasks, for CI
    python bench/preannotate.py --ls URL --token T   # an existing Label Studio

Starting Label Studio needs the test harness (``LS_VENV`` / scripts/setup/label-studio.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services.labelstudio import backends, predictions, training  # noqa: E402
from app.services.labelstudio.connection import Studio  # noqa: E402
from app.services.labelstudio.preannotate import JobOptions, PreannotateJob  # noqa: E402
from backends.sdk.catalog import get_manifest  # noqa: E402
from tests.support.servers import start_model_server  # noqa: E402

MANIFEST = get_manifest("sklearn_text_classifier")
WORDS = ["great", "awful", "fine", "boring", "lovely", "dreadful", "solid", "weak"]


@contextlib.contextmanager
def label_studio(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    if args.ls:
        yield args.ls, args.token
        return
    from tests.support.label_studio import running_label_studio

    with running_label_studio(workdir / "ls") as server:
        yield server.url, server.legacy_token


async def prepared_project(studio: Studio, title: str, n: int, server_url: str) -> tuple[int, int]:
    """A project of ``n`` tasks with the backend connected and trained on 8 annotations."""
    client = studio.client
    project = await studio.call(
        client.projects.create, title=title, label_config=MANIFEST.default_label_config
    )
    tasks = [{"text": f"{WORDS[i % len(WORDS)]} review number {i}"} for i in range(n)]
    ids = (
        await studio.call(
            client.projects.import_tasks, project.id, request=tasks, return_task_ids=True
        )
    ).task_ids
    options = backends.BackendOptions(url=server_url, title="bench")
    backend = await backends.connect(studio, project.id, options, MANIFEST)
    for i, task_id in enumerate(ids[:8]):
        label = (
            "Positive"
            if WORDS[i % len(WORDS)] in ("great", "fine", "lovely", "solid")
            else "Negative"
        )
        region = {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
        await studio.call(client.annotations.create, task_id, result=[region])
    await training.train_now(studio, backend.id)
    for _ in range(300):
        jobs = await training.backend_jobs(server_url, project.id)
        if jobs and jobs[0].finished:
            break
        await asyncio.sleep(0.2)
    return project.id, backend.id


async def stored(studio: Studio, project_id: int) -> int:
    return sum((await predictions.counts(studio, project_id)).values())


async def bench(url: str, token: str, n: int, server_url: str, options: JobOptions) -> None:
    studio = Studio(url, token, timeout=3600)
    ours_id, _ = await prepared_project(studio, "bench: our job", n, server_url)
    theirs_id, _ = await prepared_project(studio, "bench: Label Studio action", n, server_url)

    started = time.perf_counter()
    result = await PreannotateJob(studio, ours_id, server_url, options=options).run()
    ours_s = time.perf_counter() - started
    ours_n = await stored(studio, ours_id)

    started = time.perf_counter()
    await studio.call(
        studio.client.actions.create,
        id="retrieve_tasks_predictions",
        project=theirs_id,
        selected_items={"all": True, "excluded": []},
    )
    theirs_s = time.perf_counter() - started
    theirs_n = await stored(studio, theirs_id)

    ours_rate, theirs_rate = ours_n / ours_s, theirs_n / theirs_s
    print(f"tasks: {n}; chunk {options.chunk_size}, concurrency {options.concurrency}")
    print(
        f"our job            : {ours_n:6d} stored in {ours_s:7.2f} s = {ours_rate:7.1f} tasks/s"
        f" ({len(result.failures)} failed)"
    )
    print(
        f"Label Studio action: {theirs_n:6d} stored in {theirs_s:7.2f} s "
        f"= {theirs_rate:7.1f} tasks/s"
    )
    print(f"ratio: {ours_rate / theirs_rate:.1f}x")
    if ours_n != n or theirs_n != n:
        raise SystemExit(f"expected {n} predictions in each project, got {ours_n} and {theirs_n}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--tasks", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="about 300 tasks (CI)")
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ls", help="use this Label Studio instead of starting one")
    parser.add_argument("--token", help="its token (with --ls)")
    args = parser.parse_args()
    n = 300 if args.quick else args.tasks
    options = JobOptions(chunk_size=args.chunk, concurrency=args.concurrency)
    with (
        tempfile.TemporaryDirectory(prefix="bench-preannotate-") as tmp,
        label_studio(args, Path(tmp)) as (url, token),
    ):
        server = start_model_server("sklearn_text_classifier", {}, workdir=Path(tmp))
        try:
            asyncio.run(bench(url, token, n, server.url, options))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
