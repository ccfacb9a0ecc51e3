"""Requests/s and latency of ``POST /predict`` against our server and, side by side, a peer.

The peer is any other Label Studio ML backend serving the same model (the upstream SDK's
Flask + gunicorn server is the one to beat); both are driven by the same load generator in
the same run, so the printed ratios hold even on a busy machine. The load comes from ``wrk``
(Debian's C load generator) when it is installed: a Python client on the same two cores tops
out near 300 requests/s and would measure itself rather than the servers.

    python bench/serve_throughput.py                      # starts our sklearn server itself
    python bench/serve_throughput.py --peer http://127.0.0.1:9091
    python bench/serve_throughput.py --quick              # CI smoke: seconds, checks it works
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backends.sdk.catalog import get_manifest  # noqa: E402

SENTENCES = [
    "The delivery was fast and the product works great",
    "Terrible support, I want my money back",
    "It arrived on Tuesday in a brown box",
    "Absolutely love it, would buy again",
]


@dataclass
class Result:
    batch: int
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    failures: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def predict_body(model: str, batch: int) -> dict:
    manifest = get_manifest(model)
    tasks = [{"id": i + 1, "data": {"text": SENTENCES[i % len(SENTENCES)]}} for i in range(batch)]
    context = None
    if "interactive" in manifest.capabilities:
        context = {
            "result": [
                {
                    "from_name": "label",
                    "to_name": "text",
                    "type": "labels",
                    "value": {"start": 4, "end": 12, "text": "delivery", "labels": ["MISC"]},
                }
            ]
        }
    return {
        "tasks": tasks,
        "project": "1.1700000000",
        "label_config": manifest.default_label_config,
        "params": {"login": None, "password": None, "context": context},
    }


async def load(url: str, body: dict, concurrency: int, duration: float) -> Result:
    latencies: list[float] = []
    failures = 0
    done = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal failures, done
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    response = await client.post("/predict", json=body)
                    ok = response.status_code == 200 and len(response.json()["results"]) == len(
                        body["tasks"]
                    )
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - start) * 1000)
                    done += 1
                else:
                    failures += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Result(len(body["tasks"]), concurrency, done, elapsed, latencies, failures)


WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "r")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
"""


def load_with_wrk(url: str, body: dict, concurrency: int, duration: float) -> Result:
    with tempfile.TemporaryDirectory() as scratch:
        body_file, script = Path(scratch, "body.json"), Path(scratch, "post.lua")
        body_file.write_text(json.dumps(body))
        script.write_text(WRK_SCRIPT)
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s"]
        command += ["--latency", "-s", str(script), f"{url}/predict"]
        env = {**os.environ, "BENCH_BODY": str(body_file)}
        report = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return parse_wrk(report, len(body["tasks"]), concurrency)


def parse_wrk(report: str, batch: int, concurrency: int) -> Result:
    """The figures wrk prints; percentiles become a short latency list ``Result.pct`` can read."""
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(m?s)", report).group(1))
    seconds_text, unit = re.search(r"requests in ([\d.]+)(m?s)", report).groups()
    seconds = float(seconds_text) / (1000 if unit == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    failures = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    percentiles = {
        int(p): _milliseconds(value, unit)
        for p, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)$", report, re.M)
    }
    # 100 evenly spread points rebuilt from the printed percentiles (50, 75, 90, 99)
    latencies = [
        percentiles[min((p for p in percentiles if p >= q), default=99)] for q in range(100)
    ]
    return Result(batch, concurrency, requests - failures, seconds, latencies, failures)


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def our_server(model: str):
    port = free_port()
    model_dir = tempfile.mkdtemp(prefix="bench-models-")
    command = [sys.executable, str(ROOT / "main.py"), "serve", model, "--port", str(port)]
    command += ["--log-level", "warning", "--model-dir", model_dir]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def wait_healthy(url: str, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} not healthy after {timeout:.0f} s")


def labeled_tasks(body: dict) -> list[dict]:
    """A small annotated set in Label Studio's export shape, for the legacy ``/train`` route."""
    labels = ["Positive", "Negative", "Neutral", "Positive"]
    return [
        {
            "id": 1000 + i,
            "data": {"text": f"{SENTENCES[i % len(SENTENCES)]} #{i}"},
            "annotations": [
                {
                    "id": i + 1,
                    "was_cancelled": False,
                    "result": [
                        {
                            "from_name": "sentiment",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [labels[i % len(labels)]]},
                        }
                    ],
                }
            ],
        }
        for i in range(40)
    ]


def train_ours(url: str, body: dict) -> None:
    """Our classifier predicts nothing until trained; the peer starts from a bootstrap model.

    Training first makes both sides run a real TF-IDF + logistic regression on every task.
    """
    train = {"project": body["project"], "label_config": body["label_config"]}
    answer = httpx.post(f"{url}/train", json={**train, "annotations": labeled_tasks(body)})
    job_id = answer.json().get("job_id")
    deadline = time.monotonic() + 60
    while job_id and time.monotonic() < deadline:
        job = httpx.get(f"{url}/jobs/{job_id}").json()
        if job["state"] == "done":
            return
        if job["state"] in ("failed", "skipped", "cancelled"):
            raise SystemExit(f"training our server failed: {job.get('error')}")
        time.sleep(0.2)
    raise SystemExit("training our server did not finish")


def warm(url: str, body: dict) -> None:
    setup = {"project": body["project"], "schema": body["label_config"], "extra_params": None}
    httpx.post(f"{url}/setup", json=setup, timeout=30)
    for _ in range(3):
        httpx.post(f"{url}/predict", json=body, timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sklearn_text_classifier")
    parser.add_argument("--target", help="our server's URL (default: start one)")
    parser.add_argument("--peer", help="URL of another ML backend serving the same model")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per cell")
    parser.add_argument("--quick", action="store_true", help="CI smoke: short cells, fewer cases")
    parser.add_argument(
        "--driver",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (auto: wrk when installed)",
    )
    args = parser.parse_args()
    duration = 1.0 if args.quick else args.duration
    use_wrk = args.driver == "wrk" or (args.driver == "auto" and shutil.which("wrk"))
    cases = [(1, 1), (16, 8)] if args.quick else [(b, c) for b in (1, 16) for c in (1, 8, 32)]

    with contextlib.ExitStack() as stack:
        target = args.target or stack.enter_context(our_server(args.model))
        if "training" in get_manifest(args.model).capabilities:
            train_ours(target, predict_body(args.model, 1))
        servers = {"ours": target}
        if args.peer:
            wait_healthy(args.peer)
            servers["peer"] = args.peer
        driver = "wrk" if use_wrk else "python (httpx)"
        print(f"model {args.model}; {duration:.1f} s per cell; load from {driver}; {servers}")
        header = ("server", "batch", "conc", "req/s", "p50 ms", "p99 ms", "fail")
        print("{:6} {:>5} {:>4} {:>9} {:>8} {:>8} {:>5}".format(*header))
        table: dict[tuple[str, int, int], Result] = {}
        for batch, concurrency in cases:
            body = predict_body(args.model, batch)
            for name, url in servers.items():
                warm(url, body)
                if use_wrk:
                    result = load_with_wrk(url, body, concurrency, duration)
                else:
                    result = asyncio.run(load(url, body, concurrency, duration))
                table[(name, batch, concurrency)] = result
                print(
                    f"{name:6} {batch:>5} {concurrency:>4} {result.rps:>9.1f} "
                    f"{result.pct(0.5):>8.1f} {result.pct(0.99):>8.1f} {result.failures:>5}"
                )
        failed = sum(r.failures for (name, *_), r in table.items() if name == "ours")
        if args.peer:
            print("\nratio ours/peer (req/s):")
            ratios = []
            for batch, concurrency in cases:
                ours = table[("ours", batch, concurrency)]
                peer = table[("peer", batch, concurrency)]
                ratio = ours.rps / peer.rps if peer.rps else float("inf")
                ratios.append(ratio)
                print(f"  batch {batch:>2}, concurrency {concurrency:>2}: {ratio:5.2f}x")
            print(f"  geometric mean: {statistics.geometric_mean(ratios):.2f}x")
    if failed:
        print(f"error: {failed} requests to our server failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
