"""Read a model server's Prometheus ``/metrics`` text and turn two readings into rates.

Parsing is generic (any family, any labels) so a new counter on the server side needs no change
here; :class:`ServerCounters` picks the few numbers the panel shows.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

PREFIX = "ml_launcher_"
_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse_prometheus(text: str) -> Samples:
    """``{name: [(labels, value), ...]}`` for every sample line; comments and junk are skipped."""
    samples: Samples = defaultdict(list)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        if not match:
            continue
        name, _, raw_labels, raw_value = match.groups()
        try:
            value = float(raw_value)
        except ValueError:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL_RE.findall(raw_labels or "")}
        samples[name].append((labels, value))
    return dict(samples)


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def total(samples: Samples, name: str, **match: str) -> float:
    """Sum of a family's samples whose labels match; 0 when the family is absent."""
    return sum(
        value
        for labels, value in samples.get(name, [])
        if all(labels.get(k) == v for k, v in match.items()) and not math.isnan(value)
    )


@dataclass(frozen=True)
class ServerCounters:
    """One reading of the numbers the panel shows, taken at ``at`` (monotonic seconds)."""

    at: float
    requests: float
    errors: float
    predictions: float
    in_flight: float
    queue_depth: float

    @classmethod
    def from_samples(cls, samples: Samples, at: float) -> ServerCounters:
        server_errors = sum(
            value
            for labels, value in samples.get(PREFIX + "requests_total", [])
            # /health answers 503 while the model loads: that is a state, not an error
            if labels.get("status", "").startswith("5") and labels.get("route") != "/health"
        )
        return cls(
            at=at,
            requests=total(samples, PREFIX + "requests_total"),
            errors=server_errors + total(samples, PREFIX + "prediction_errors_total"),
            predictions=total(samples, PREFIX + "predictions_total"),
            in_flight=total(samples, PREFIX + "requests_in_flight"),
            queue_depth=total(samples, PREFIX + "inference_queue_depth"),
        )

    def rate_since(self, earlier: ServerCounters | None) -> float:
        """Requests per second between two readings; 0 across a restart (counters reset)."""
        if earlier is None or self.at <= earlier.at or self.requests < earlier.requests:
            return 0.0
        return (self.requests - earlier.requests) / (self.at - earlier.at)
