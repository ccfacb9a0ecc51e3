"""Tiny real models for the server tests: each one has one behaviour the server must cope with.

They subclass the real ``Model`` and run through the real server; only their "learning" is
trivial, so a test can say exactly what a prediction or a version must contain.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from backends.sdk.manifest import Manifest
from backends.sdk.model import Model, NotEnoughData, Project, TrainingReport


def manifest(model_class: str, *, trains: bool = False) -> Manifest:
    """A catalog entry for one of the models below, as a ``manifest.toml`` would describe it."""
    return Manifest(
        name=f"fake_{model_class.lower()}",
        title=model_class,
        description="test model",
        model_class=f"tests.unit.fake_models:{model_class}",
        capabilities=["prediction", "training"] if trains else ["prediction"],
        data_types=["text"],
        requires=[{"control": "Choices", "objects": ["Text", "HyperText"]}],
        parameters=[{"name": "THRESHOLD", "type": "float", "default": 0.5}],
    )


def choice(project: Project, label: str, **extra: Any) -> dict[str, Any]:
    control, obj = project.label_config.first("Choices", ("Text",))
    region = {"from_name": control.name, "to_name": obj.name, "type": "choices"}
    return {"result": [{**region, "value": {"choices": [label]}}], "score": 0.5, **extra}


class Echo(Model):
    """Answers every task with the first label and echoes what it was given."""

    def predict(self, tasks, project, context):
        label = project.label_config.controls[0].labels[0]
        return [
            choice(project, label, echo={"id": t["id"], "data": t["data"]}, context=context)
            for t in tasks
        ]


class FailsOnBoom(Model):
    """Raises for any batch holding a task whose text is ``boom``, like a model with a bad input."""

    def predict(self, tasks, project, context):
        if any(t["data"].get("text") == "boom" for t in tasks):
            raise ValueError("cannot read this text")
        return [choice(project, t["data"]["text"]) for t in tasks]


class Slow(Model):
    """Takes ``DELAY`` seconds per batch: a big model on a small machine."""

    def predict(self, tasks, project, context):
        time.sleep(float(self.params.get("DELAY", 1.0)))
        return [choice(project, "slow") for _ in tasks]


class BrokenSetup(Model):
    """Its weights are missing, so ``setup`` raises."""

    def setup(self):
        raise FileNotFoundError("weights not found: missing.bin")


class SlowToLoad(Model):
    """Loads until the test sets ``GATE``: the minutes a large model takes to read its weights."""

    def setup(self):
        if not self.params["GATE"].wait(timeout=10):
            raise TimeoutError("the test never released the gate")

    def predict(self, tasks, project, context):
        return [choice(project, "loaded") for _ in tasks]


class CrashesInCheck(Model):
    """A bug in model code outside ``predict``: the server must answer 500, not die."""

    def check_label_config(self, config):
        raise KeyError("toName")


class Trainable(Model):
    """Learns "the number of its training run" and predicts it, so versions are visible.

    ``GATE`` (a ``threading.Event``) holds ``fit`` until the test releases it; ``NO_DATA``
    makes it report that there is nothing to learn; ``FAIL`` makes it crash.
    """

    def __init__(self, manifest, params, model_dir):
        super().__init__(manifest, params, model_dir)
        self.learned: dict[str, str] = {}
        self.fits = 0

    def predict(self, tasks, project, context):
        return [choice(project, self.learned.get(project.id, "untrained")) for _ in tasks]

    def fit(self, project: Project, workdir: Path, report: TrainingReport) -> dict[str, float]:
        self.fits += 1
        gate: threading.Event | None = self.params.get("GATE")
        if gate is not None and not gate.wait(timeout=10):
            raise TimeoutError("the test never released the gate")
        if self.params.get("NO_DATA"):
            raise NotEnoughData("no annotations yet")
        if self.params.get("FAIL"):
            (workdir / "half-written.bin").write_bytes(b"...")
            raise OSError("disk full")
        for epoch in range(3):
            report.metric("loss", 1.0 / (epoch + 1), epoch)
            report.progress(epoch + 1, 3)
        (workdir / "label.txt").write_text(f"run-{self.fits}", encoding="utf-8")
        return {"accuracy": 0.75}

    def load_version(self, project: Project, directory: Path) -> None:
        self.learned[project.id] = (directory / "label.txt").read_text(encoding="utf-8")
