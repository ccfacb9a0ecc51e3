"""What every "Choices on a Text" classifier shares: where its examples come from and what an
answer looks like, so the sklearn and the transformer classifier differ only in the model."""

from __future__ import annotations

from typing import Any

from backends.sdk import annotations
from backends.sdk.label_config import Control, LabelConfig, ObjectTag
from backends.sdk.model import NotEnoughData

TEXT_OBJECTS = ("Text", "HyperText")


def choices_on_text(config: LabelConfig | None) -> tuple[Control, ObjectTag]:
    if config is None:
        raise NotEnoughData("Label Studio has not sent this project's label config yet")
    return config.first("Choices", TEXT_OBJECTS)


def labeled_examples(
    tasks: list[dict[str, Any]], from_name: str, data_key: str
) -> tuple[list[str], list[str]]:
    """(text, chosen label) of every task whose latest kept annotation chose something here."""
    texts, labels = [], []
    for task in tasks:
        text = (task.get("data") or {}).get(data_key)
        annotation = annotations.latest_annotation(task)
        if not isinstance(text, str) or annotation is None:
            continue
        for region in annotation.get("result") or []:
            chosen = (region.get("value") or {}).get("choices") or []
            if region.get("from_name") == from_name and chosen:
                texts.append(text)
                labels.append(str(chosen[0]))
                break
    return texts, labels


def texts_of(tasks: list[dict[str, Any]], data_key: str) -> list[str | None]:
    """Each task's text, or None where the task has none (it then gets no prediction)."""
    return [
        text if isinstance(text := (task.get("data") or {}).get(data_key), str) else None
        for task in tasks
    ]


def choice_prediction(from_name: str, to_name: str, label: str, score: float) -> dict[str, Any]:
    region = {"from_name": from_name, "to_name": to_name, "type": "choices"}
    return {
        "result": [{**region, "value": {"choices": [label]}, "score": score}],
        "score": score,
    }
