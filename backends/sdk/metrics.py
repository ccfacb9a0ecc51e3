"""Request logging and Prometheus counters, written by hand to keep model servers lean.

One middleware sees every response (including 401s and 404s), logs one line for it and feeds
the counters that ``GET /metrics`` prints in the Prometheus text format the panel polls.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLLED_ROUTES = frozenset({"/", "/health", "/metrics", "/jobs", "/jobs/{job_id}", "/versions"})

log = logging.getLogger("ml_launcher.server")

PREFIX = "ml_launcher"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """Counters the server updates; gauges that depend on live state are passed to ``render``."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.latency_buckets: defaultdict[str, list[int]] = defaultdict(
            lambda: [0] * len(LATENCY_BUCKETS)
        )
        self.latency_sum: Counter[str] = Counter()
        self.latency_count: Counter[str] = Counter()
        self.in_flight = 0
        self.predictions = 0
        self.prediction_errors = 0
        self.training_jobs: Counter[str] = Counter()  # finished jobs by final state

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, str(status))] += 1
        buckets = self.latency_buckets[route]
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        self.latency_sum[route] += seconds
        self.latency_count[route] += 1

    def render(self, gauges: dict[str, tuple[str, dict[tuple, float]]]) -> str:
        """The text exposition format; ``gauges`` maps name -> (help, {labels: value})."""
        requests = [
            ((("route", r), ("method", m), ("status", s)), n)
            for (r, m, s), n in self.requests.items()
        ]
        finished = [((("state", s),), n) for s, n in sorted(self.training_jobs.items())]
        out: list[str] = []
        _family(out, "requests_total", "counter", "HTTP requests answered.", requests)
        _family(
            out, "requests_in_flight", "gauge", "Requests being answered.", [((), self.in_flight)]
        )
        _family(out, "predictions_total", "counter", "Tasks predicted.", [((), self.predictions)])
        _family(
            out,
            "prediction_errors_total",
            "counter",
            "Tasks whose prediction failed.",
            [((), self.prediction_errors)],
        )
        _family(out, "training_jobs_total", "counter", "Training jobs by final state.", finished)
        for gauge, (help_text, samples) in gauges.items():
            _family(out, gauge, "gauge", help_text, samples.items())
        self._histogram(out)
        return "\n".join(out) + "\n"

    def _histogram(self, out: list[str]) -> None:
        name = f"{PREFIX}_request_duration_seconds"
        out += [f"# HELP {name} Time to answer a request.", f"# TYPE {name} histogram"]
        for route, buckets in self.latency_buckets.items():
            route_label = (("route", route),)
            bounds = [*map(str, LATENCY_BUCKETS), "+Inf"]
            counts = [*buckets, self.latency_count[route]]
            for bound, count in zip(bounds, counts, strict=True):
                out.append(f"{name}_bucket{_labels((*route_label, ('le', bound)))} {count}")
            out.append(f"{name}_sum{_labels(route_label)} {self.latency_sum[route]:.6f}")
            out.append(f"{name}_count{_labels(route_label)} {self.latency_count[route]}")


def _family(out: list[str], name: str, kind: str, help_text: str, samples: Iterable) -> None:
    full = f"{PREFIX}_{name}"
    out += [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}"]
    out += [f"{full}{_labels(labels)} {value}" for labels, value in samples]


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RequestLogMiddleware:
    """Logs ``METHOD path status ms`` per request and counts it under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], list[BaseRoute]]):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, remember_status)
        finally:
            self.metrics.in_flight -= 1
            seconds = time.perf_counter() - started
            method, path = scope["method"], scope["path"]
            route = self._route(scope)
            self.metrics.observe_request(route, method, status, seconds)
            # the panel polls these every second: at INFO they would drown the real traffic
            polled = method == "GET" and route in POLLED_ROUTES and status < 400
            level = logging.DEBUG if polled else logging.INFO
            log.log(level, "%s %s %d %.1f ms", method, path, status, seconds * 1000)

    def _route(self, scope: Scope) -> str:
        """The route template, so ``/jobs/{job_id}`` is one series, not one per job."""
        for route in self.routes():
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return getattr(route, "path", "other")
        return "unmatched"
