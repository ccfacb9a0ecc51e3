"""TF-IDF + logistic regression that learns a project's Choices from its own annotations.

It knows nothing until the first training: predictions before that are empty rather than
guesses, and training needs annotated examples of at least two classes.
"""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline

from backends.sdk import annotations, choices
from backends.sdk.manifest import Manifest
from backends.sdk.model import Model, NotEnoughData, Project, TrainingReport

MODEL_FILE = "classifier.pkl"
# A held-out split is only worth its cost with this many examples and two of every class.
MIN_EXAMPLES_FOR_HOLDOUT = 10
HOLDOUT_FRACTION = 0.2
# The learning curve: holdout scores after training on growing parts of the training split.
CURVE_STEPS = 5


@dataclass
class Trained:
    """What one training run leaves behind: the pipeline and where its answers go."""

    pipeline: Pipeline
    from_name: str
    to_name: str
    data_key: str


class SklearnTextClassifier(Model):
    def __init__(self, manifest: Manifest, params: dict[str, Any], model_dir: Path):
        super().__init__(manifest, params, model_dir)
        self._trained: dict[str, Trained] = {}
        # Where labeled tasks come from: Label Studio itself, or a list in unit tests.
        self.labeled_tasks: annotations.TaskSource = annotations.fetch_labeled_tasks

    def predict(
        self, tasks: list[dict[str, Any]], project: Project, context: dict[str, Any] | None
    ) -> list[dict[str, Any] | None]:
        trained = self._trained.get(project.id)
        if trained is None:
            return [None] * len(tasks)
        texts = choices.texts_of(tasks, trained.data_key)
        known = [i for i, text in enumerate(texts) if text is not None]
        predictions: list[dict[str, Any] | None] = [None] * len(tasks)
        if not known:
            return predictions
        probabilities = trained.pipeline.predict_proba([texts[i] for i in known])
        classes = trained.pipeline.classes_
        for i, row in zip(known, probabilities, strict=True):
            best = int(row.argmax())
            label, score = str(classes[best]), float(row[best])
            predictions[i] = choices.choice_prediction(
                trained.from_name, trained.to_name, label, score
            )
        return predictions

    def fit(self, project: Project, workdir: Path, report: TrainingReport) -> dict[str, float]:
        control, target = choices.choices_on_text(project.label_config)
        tasks = self.labeled_tasks(project, self.params)
        texts, labels = choices.labeled_examples(tasks, control.name, target.data_key)
        counts = Counter(labels)
        if len(counts) < 2:
            raise NotEnoughData(
                f"needs annotated examples of at least 2 classes of {control.name!r}; "
                f"found {len(labels)} annotated task(s) with "
                f"{', '.join(sorted(counts)) or 'no choices'}"
            )
        c_value = float(self.params.get("LOGISTIC_REGRESSION_C") or 10.0)
        metrics: dict[str, float] = {"examples": float(len(labels))}
        if len(labels) >= MIN_EXAMPLES_FOR_HOLDOUT and min(counts.values()) >= 2:
            metrics.update(_learning_curve(texts, labels, c_value, report))
        if report.cancelled:
            return metrics
        pipeline = _pipeline(c_value).fit(texts, labels)
        metrics["train_loss"] = float(
            log_loss(labels, pipeline.predict_proba(texts), labels=pipeline.classes_)
        )
        metrics["train_accuracy"] = float(accuracy_score(labels, pipeline.predict(texts)))
        report.metric("train_loss", metrics["train_loss"], len(labels))
        report.progress(CURVE_STEPS + 1, CURVE_STEPS + 1)
        trained = Trained(pipeline, control.name, target.name, target.data_key)
        with (workdir / MODEL_FILE).open("wb") as handle:
            pickle.dump(trained, handle)
        return metrics

    def load_version(self, project: Project, directory: Path) -> None:
        with (directory / MODEL_FILE).open("rb") as handle:
            self._trained[project.id] = pickle.load(handle)


def _pipeline(c_value: float) -> Pipeline:
    return make_pipeline(TfidfVectorizer(), LogisticRegression(C=c_value, max_iter=1000))


def _learning_curve(
    texts: list[str], labels: list[str], c_value: float, report: TrainingReport
) -> dict[str, float]:
    """Holdout accuracy and macro F1 as the training split grows; the last point is the score."""
    n_classes = len(set(labels))
    holdout = max(n_classes, round(len(labels) * HOLDOUT_FRACTION))
    train_x, test_x, train_y, test_y = train_test_split(
        texts, labels, test_size=holdout, stratify=labels, random_state=0
    )
    scores: dict[str, float] = {}
    for step in range(1, CURVE_STEPS + 1):
        if report.cancelled:
            break
        size = max(n_classes, round(len(train_x) * step / CURVE_STEPS))
        part_x, part_y = train_x[:size], train_y[:size]
        if len(set(part_y)) < 2:
            continue
        pipeline = _pipeline(c_value).fit(part_x, part_y)
        predicted = pipeline.predict(test_x)
        scores = {
            "accuracy": float(accuracy_score(test_y, predicted)),
            "macro_f1": float(f1_score(test_y, predicted, average="macro")),
            "train_loss": float(
                log_loss(part_y, pipeline.predict_proba(part_x), labels=pipeline.classes_)
            ),
        }
        for name, value in scores.items():
            report.metric(name, value, size)
        report.progress(step, CURVE_STEPS + 1)
    return {name: value for name, value in scores.items() if name != "train_loss"}
