"""Label a span once, get every other occurrence of the same words labeled the same way.

Interactive only: the annotator's spans arrive as the ``context`` of an interactive
``/predict``. A batch prediction has no context, so it yields nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

from backends.sdk.model import Model, Project

EXACT_SCORE = 1.0
# A match that differs from the marked span in capitalisation is a weaker hint.
CASE_FOLDED_SCORE = 0.8


class SubstringMatcher(Model):
    def predict(
        self, tasks: list[dict[str, Any]], project: Project, context: dict[str, Any] | None
    ) -> list[dict[str, Any] | None]:
        marked = [
            region
            for region in (context or {}).get("result") or []
            if region.get("type") == "labels" and isinstance(region.get("value"), dict)
        ]
        if not marked:
            return [None] * len(tasks)
        return [self._match_task(task, project, marked) for task in tasks]

    def _match_task(
        self, task: dict[str, Any], project: Project, marked: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        results: list[dict[str, Any]] = []
        # The annotator's own spans are already on screen; only new ones are worth sending.
        taken = {_span(r["value"], r.get("from_name")) for r in marked}
        for region in marked:
            text = _task_text(task, project, region.get("to_name"))
            if text is None:
                continue
            for start, end, score in self._occurrences(region["value"], text):
                key = _span({"start": start, "end": end}, region.get("from_name"))
                if key in taken:
                    continue
                taken.add(key)
                results.append(_region(region, text, start, end, score))
        if not results:
            return {"result": [], "score": 0.0}
        return {"result": results, "score": min(r["score"] for r in results)}

    def _occurrences(self, value: dict[str, Any], text: str) -> Iterator[tuple[int, int, float]]:
        needle = value.get("text")
        start, end = value.get("start"), value.get("end")
        if not needle and isinstance(start, int) and isinstance(end, int):
            needle = text[start:end]
        if not isinstance(needle, str) or not needle.strip():
            return
        pattern = re.escape(needle)
        if self.params.get("WHOLE_WORDS", True):
            pattern = rf"(?<!\w){pattern}(?!\w)"
        flags = 0 if self.params.get("CASE_SENSITIVE", False) else re.IGNORECASE
        for match in re.finditer(pattern, text, flags):
            score = EXACT_SCORE if match.group() == needle else CASE_FOLDED_SCORE
            yield match.start(), match.end(), score


def _span(value: dict[str, Any], from_name: str | None) -> tuple[Any, Any, str | None]:
    return value.get("start"), value.get("end"), from_name


def _task_text(task: dict[str, Any], project: Project, to_name: str | None) -> str | None:
    """The text the span's object shows: ``<Text name=to_name value="$key">`` → data[key]."""
    config = project.label_config
    target = config.object(to_name) if config is not None and to_name else None
    if target is None:
        return None
    text = (task.get("data") or {}).get(target.data_key)
    return text if isinstance(text, str) else None


def _region(marked: dict[str, Any], text: str, start: int, end: int, score: float) -> dict:
    return {
        "id": uuid.uuid4().hex[:10],
        "from_name": marked.get("from_name"),
        "to_name": marked.get("to_name"),
        "type": "labels",
        "value": {
            "start": start,
            "end": end,
            "text": text[start:end],
            "labels": list(marked["value"].get("labels") or []),
        },
        "score": score,
    }
