"""A pretrained transformer encoder fine-tuned on a project's Choices, on the CPU or a GPU.

Each training run starts again from ``BASELINE_MODEL_NAME`` (a Hugging Face id or a local
directory) and learns from every annotation, so a version depends only on the annotations,
never on which versions came before. Before the first training it predicts nothing: a
classification head that has never seen a label would only guess.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from backends.sdk import annotations, choices, torch_loop
from backends.sdk.label_config import Control
from backends.sdk.manifest import Manifest
from backends.sdk.model import Model, NotEnoughData, Project, TrainingReport

log = logging.getLogger(__name__)

TARGET_FILE = "classifier.json"  # where predictions go; the weights are save_pretrained files
HOLDOUT_FRACTION = 0.2
PREDICT_BATCH = 32
SEED = 0


@dataclass
class Trained:
    """One loaded version: the network, its tokenizer and where its answers go."""

    network: torch.nn.Module
    tokenizer: Any
    from_name: str
    to_name: str
    data_key: str
    labels: list[str]


class BertClassifier(Model):
    def __init__(self, manifest: Manifest, params: dict[str, Any], model_dir: Path):
        super().__init__(manifest, params, model_dir)
        self._trained: dict[str, Trained] = {}
        self.device = torch.device("cpu")
        # Where labeled tasks come from: Label Studio itself, or a list in unit tests.
        self.labeled_tasks: annotations.TaskSource = annotations.fetch_labeled_tasks

    def setup(self) -> None:
        """Check the device and that the baseline can be had, before /health says UP."""
        self.device = torch_loop.resolve_device(str(self.params.get("DEVICE") or "auto"))
        AutoTokenizer.from_pretrained(self.baseline)
        log.info("bert_classifier: %s on %s", self.baseline, self.device)

    @property
    def baseline(self) -> str:
        return str(self.params.get("BASELINE_MODEL_NAME") or "bert-base-multilingual-cased")

    def predict(
        self, tasks: list[dict[str, Any]], project: Project, context: dict[str, Any] | None
    ) -> list[dict[str, Any] | None]:
        trained = self._trained.get(project.id)
        predictions: list[dict[str, Any] | None] = [None] * len(tasks)
        if trained is None:
            return predictions
        texts = choices.texts_of(tasks, trained.data_key)
        known = [i for i, text in enumerate(texts) if text is not None]
        for start in range(0, len(known), PREDICT_BATCH):
            chunk = known[start : start + PREDICT_BATCH]
            probabilities = self._probabilities(trained, [texts[i] for i in chunk])
            for i, row in zip(chunk, probabilities.tolist(), strict=True):
                best = max(range(len(row)), key=row.__getitem__)
                predictions[i] = choices.choice_prediction(
                    trained.from_name, trained.to_name, trained.labels[best], row[best]
                )
        return predictions

    def fit(self, project: Project, workdir: Path, report: TrainingReport) -> dict[str, float]:
        control, target = choices.choices_on_text(project.label_config)
        labels = list(control.labels)
        texts, label_ids = _examples(
            self.labeled_tasks(project, self.params), control, target.data_key
        )
        counts = Counter(labels[i] for i in label_ids)
        if len(counts) < 2:
            raise NotEnoughData(
                f"needs annotated examples of at least 2 classes of {control.name!r}; "
                f"found {len(texts)} annotated task(s) with {', '.join(sorted(counts)) or 'none'}"
            )
        torch.manual_seed(SEED)  # the new head's first weights: same annotations, same version
        tokenizer = AutoTokenizer.from_pretrained(self.baseline)
        tokenizer.padding_side = "right"  # the loop trims each batch's padding from the right
        network = AutoModelForSequenceClassification.from_pretrained(
            self.baseline,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            ignore_mismatched_sizes=True,  # a baseline may come with a head for other labels
        )
        data = self._encode(tokenizer, texts)
        data["labels"] = torch.tensor(label_ids, dtype=torch.long)
        train_ids, held_ids = torch_loop.holdout_split(label_ids, HOLDOUT_FRACTION)
        held_out = torch_loop.subset(data, held_ids) if held_ids else None
        result = torch_loop.train_classifier(
            network, torch_loop.subset(data, train_ids), held_out, self._loop_config(), report
        )
        if not result.cancelled:
            network.save_pretrained(workdir)
            tokenizer.save_pretrained(workdir)
            meta = {"from_name": control.name, "to_name": target.name}
            meta |= {"data_key": target.data_key, "labels": labels}
            (workdir / TARGET_FILE).write_text(json.dumps(meta), encoding="utf-8")
        del network
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        seconds = result.epoch_seconds
        return {
            **result.metrics,
            "examples": float(len(texts)),
            "held_out": float(len(held_ids)),
            "epochs": float(result.epochs_run),
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else 0.0,
        }

    def load_version(self, project: Project, directory: Path) -> None:
        meta = json.loads((directory / TARGET_FILE).read_text(encoding="utf-8"))
        network = AutoModelForSequenceClassification.from_pretrained(directory)
        self._trained[project.id] = Trained(
            network=network.to(self.device).eval(),
            tokenizer=AutoTokenizer.from_pretrained(directory),
            from_name=meta["from_name"],
            to_name=meta["to_name"],
            data_key=meta["data_key"],
            labels=list(meta["labels"]),
        )

    def _loop_config(self) -> torch_loop.LoopConfig:
        p = self.params
        return torch_loop.LoopConfig(
            epochs=int(p.get("NUM_TRAIN_EPOCHS") or 3),
            batch_size=int(p.get("BATCH_SIZE") or 8),
            learning_rate=float(p.get("LEARNING_RATE") or 2e-5),
            weight_decay=float(p.get("WEIGHT_DECAY") or 0.0),
            patience=int(p.get("EARLY_STOPPING_PATIENCE") or 0),
            device=str(self.device),
            seed=SEED,
        )

    def _encode(self, tokenizer: Any, texts: list[str]) -> dict[str, torch.Tensor]:
        encoded = tokenizer(
            texts,
            truncation=True,
            max_length=int(self.params.get("MAX_LENGTH") or 512),
            padding="longest",
            return_tensors="pt",
        )
        return dict(encoded)

    @torch.inference_mode()
    def _probabilities(self, trained: Trained, texts: list[str]) -> torch.Tensor:
        batch = self._encode(trained.tokenizer, texts)
        logits = trained.network(**{k: v.to(self.device) for k, v in batch.items()}).logits
        return logits.float().softmax(-1).cpu()


def _examples(
    tasks: list[dict[str, Any]], control: Control, data_key: str
) -> tuple[list[str], list[int]]:
    """(text, label index) of the examples whose label is still in the config."""
    index = {label: i for i, label in enumerate(control.labels)}
    texts, labels = choices.labeled_examples(tasks, control.name, data_key)
    unknown = Counter(label for label in labels if label not in index)
    if unknown:
        log.warning("skipped annotations with labels no longer in the config: %s", dict(unknown))
    kept = [(t, index[label]) for t, label in zip(texts, labels, strict=True) if label in index]
    return [text for text, _ in kept], [label_id for _, label_id in kept]
