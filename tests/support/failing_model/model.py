"""A real model for the real server that fails on purpose, so per-task failures can be tested.

Any task whose text contains ``FAIL`` raises; the server isolates it and the rest of the
batch is answered normally.
"""

from __future__ import annotations

from typing import Any

from backends.sdk.model import Model, Project

TRIGGER = "FAIL"


class FailingModel(Model):
    def predict(
        self, tasks: list[dict[str, Any]], project: Project, context: dict[str, Any] | None
    ) -> list[dict[str, Any] | None]:
        answers = []
        for task in tasks:
            text = str(task["data"].get("text", ""))
            if TRIGGER in text:
                raise ValueError(f"refusing task {task.get('id')}: its text contains {TRIGGER}")
            choice = {"choices": ["Positive"]}
            region = {
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": choice,
            }
            answers.append({"result": [region], "score": 0.9})
        return answers
