"""The reusable torch loop: it learns, reports into the job, stops when asked or when it stops
improving, and refuses devices that are not there.

The network is a real (tiny) torch model in the Hugging Face shape: ``model(**batch)`` gives
``loss`` and ``logits``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from sklearn.metrics import f1_score
from torch import nn

from backends.sdk import torch_loop
from backends.sdk.torch_loop import DeviceUnavailable, LoopConfig, train_classifier

VOCAB, LENGTH = 20, 6


class BagOfWords(nn.Module):
    """Averages token embeddings under the mask; remembers the batch widths it was fed."""

    def __init__(self, classes: int = 2):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(VOCAB, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, classes)
        self.widths: list[int] = []

    def forward(self, input_ids, attention_mask, labels):
        self.widths.append(input_ids.shape[1])
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1)
        logits = self.head(self.norm(pooled))
        return SimpleNamespace(loss=nn.functional.cross_entropy(logits, labels), logits=logits)


class Report:
    """A TrainingReport that keeps everything and can ask to stop after some metric points."""

    def __init__(self, cancel_after: int | None = None):
        self.points: list[tuple[str, float, int]] = []
        self.progress_calls: list[tuple[int, int]] = []
        self.cancel_after = cancel_after

    def progress(self, step: int, total: int) -> None:
        self.progress_calls.append((step, total))

    def metric(self, name: str, value: float, step: int) -> None:
        self.points.append((name, value, step))

    @property
    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.points) >= self.cancel_after

    def series(self, name: str) -> list[tuple[int, float]]:
        return [(step, value) for n, value, step in self.points if n == name]


def examples(count: int, flip: bool = False, length: int = LENGTH) -> dict[str, torch.Tensor]:
    """Class 0 texts use tokens 1-9, class 1 tokens 10-19; the second half of each row is padding
    for every other row, so batches have different real widths."""
    generator = torch.Generator().manual_seed(count + flip)
    labels = torch.arange(count) % 2
    low = torch.randint(1, 10, (count, length), generator=generator)
    ids = torch.where(labels.unsqueeze(1).bool(), low + 9, low)
    mask = torch.ones(count, length, dtype=torch.long)
    mask[::2, length // 2 :] = 0
    ids = ids * mask
    return {"input_ids": ids, "attention_mask": mask, "labels": labels ^ int(flip)}


def test_the_loop_learns_and_reports_every_step_and_epoch():
    model, report = BagOfWords(), Report()
    config = LoopConfig(epochs=4, batch_size=8, learning_rate=0.05, device="cpu", log_every=2)
    result = train_classifier(model, examples(64), examples(20), config, report)
    losses = report.series("train_loss")
    accuracy = report.series("accuracy")
    assert [step for step, _ in losses] == list(range(2, 33, 2))  # 8 steps per epoch
    assert losses[-1][1] < losses[0][1] / 2
    assert [step for step, _ in accuracy] == [8, 16, 24, 32]
    assert [step for step, _ in report.series("macro_f1")] == [8, 16, 24, 32]
    assert [step for step, _ in report.series("eval_loss")] == [8, 16, 24, 32]
    assert accuracy[-1][1] == 1.0
    assert report.progress_calls[-1] == (32, 32)
    assert result.metrics["accuracy"] == 1.0
    assert result.metrics["train_loss"] == losses[-1][1]
    assert (result.epochs_run, result.kept_epoch, result.cancelled) == (4, 4, False)
    assert len(result.epoch_seconds) == 4
    assert result.peak_memory_bytes > 0


def test_each_batch_is_cut_to_its_longest_real_text():
    model = BagOfWords()
    data = examples(4)
    data["attention_mask"][:, 4:] = 0  # nothing beyond 4 tokens anywhere
    train_classifier(model, data, None, LoopConfig(epochs=1, batch_size=2), Report())
    assert model.widths == [4, 4]


def test_cancel_stops_before_the_next_step():
    report = Report(cancel_after=3)
    config = LoopConfig(epochs=50, batch_size=4, learning_rate=0.05, log_every=1)
    result = train_classifier(BagOfWords(), examples(64), None, config, report)
    assert result.cancelled
    assert len(report.points) == 3
    assert report.progress_calls[-1] == (3, 50 * 16)


def test_early_stopping_keeps_the_best_epoch():
    """Held-out labels are the opposite of the training labels: the better the model learns,
    the worse the held-out loss, so the first epoch is the best one."""
    model, report = BagOfWords(), Report()
    held_out = examples(20, flip=True)
    config = LoopConfig(epochs=10, batch_size=8, learning_rate=0.05, patience=2)
    result = train_classifier(model, examples(64), held_out, config, report)
    first_epoch_loss = report.series("eval_loss")[0][1]
    model.eval()
    with torch.no_grad():
        after = model(**held_out).loss.item()
    assert result.stopped_early
    assert (result.epochs_run, result.kept_epoch) == (3, 1)
    assert len(report.series("eval_loss")) == 3
    assert result.metrics["eval_loss"] == first_epoch_loss
    assert after == pytest.approx(first_epoch_loss, rel=1e-4)


def test_devices_that_are_not_there_are_refused_by_name():
    assert torch_loop.resolve_device("cpu") == torch.device("cpu")
    expected_auto = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert torch_loop.resolve_device("auto") == torch.device(expected_auto)
    with pytest.raises(DeviceUnavailable, match=r"^DEVICE: cuda:99 asked for, but "):
        torch_loop.resolve_device("cuda:99")
    with pytest.raises(DeviceUnavailable, match="expected auto, cpu or cuda:N, got 'tpu'"):
        torch_loop.resolve_device("tpu")
    with pytest.raises(DeviceUnavailable, match="expected auto, cpu or cuda:N, got 'gpu!'"):
        torch_loop.resolve_device("gpu!")


def test_the_held_out_split_keeps_every_class_on_both_sides():
    labels = [0] * 12 + [1] * 6 + [2] * 2
    train, held = torch_loop.holdout_split(labels, 0.2)
    assert sorted(train + held) == list(range(20))
    assert sorted(labels[i] for i in held) == [0, 0, 1, 2]
    assert {labels[i] for i in train} == {0, 1, 2}
    assert torch_loop.holdout_split(labels, 0.2) == (train, held)  # same split every run
    assert torch_loop.holdout_split([0, 1] * 4, 0.2) == (list(range(8)), [])  # too few
    assert torch_loop.holdout_split([0] * 10 + [1], 0.2) == (list(range(11)), [])  # a lone one


def test_macro_f1_agrees_with_scikit_learn():
    generator = torch.Generator().manual_seed(3)
    truth = torch.randint(0, 4, (200,), generator=generator)
    guesses = torch.randint(0, 5, (200,), generator=generator)  # one class never true
    assert torch_loop.macro_f1(truth, guesses) == pytest.approx(
        f1_score(truth.numpy(), guesses.numpy(), average="macro")
    )
