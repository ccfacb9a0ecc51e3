"""The model server: Label Studio's ML backend protocol plus what the panel needs to watch it.

``create_app`` builds the ASGI app; ``serve`` runs it under uvicorn in one process. The model
is built once, in the lifespan, on a worker thread, so ``/health`` can say LOADING (503) while
weights load and FAILED (503, with the reason) when ``setup`` raised.

Label Studio's own routes live here (``/``, ``/health``, ``/setup``, ``/predict``, ``/webhook``,
``/train``) with ``GET /metrics`` (Prometheus text); the training jobs and versions the panel
follows are in :mod:`backends.sdk.routes_training`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backends.sdk import routes_training
from backends.sdk.auth import BasicAuthMiddleware
from backends.sdk.batching import QueueFull
from backends.sdk.jobs import JobState
from backends.sdk.label_config import LabelConfigError, UnsupportedConfig
from backends.sdk.manifest import Capability, Manifest
from backends.sdk.metrics import RequestLogMiddleware
from backends.sdk.model import Project
from backends.sdk.projects import DEFAULT_PROJECT
from backends.sdk.routes_training import project_id_field
from backends.sdk.runtime import ServerState
from backends.sdk.wire import (
    ApiError,
    ErrorResponse,
    HealthResponse,
    PredictRequest,
    SetupRequest,
    TrainRequest,
    WebhookRequest,
    WebhookResponse,
    project_id,
    read_body,
)

log = logging.getLogger("ml_launcher.server")

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_BODY_BYTES = 32 * 1024 * 1024
QUEUE_LIMIT = 64


Handler = Callable[[Request, ServerState], Awaitable[Response]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Refusals become 4xx JSON; anything else a 500 whose traceback stays in the log."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request, request.app.state.server)
        except ApiError as exc:
            return JSONResponse(exc.body(), exc.status, headers=exc.headers)
        except Exception as exc:
            error_id = uuid.uuid4().hex
            log.exception("%s %s failed (error_id=%s)", request.method, request.url.path, error_id)
            body = ErrorResponse(error=f"{type(exc).__name__}: {exc}", error_id=error_id)
            return JSONResponse(body.model_dump(exclude_none=True), 500)

    return run


async def health(request: Request, st: ServerState) -> Response:
    body = HealthResponse(
        status=st.status,
        model_class=st.class_name,
        model_version=st.projects.last_version or st.store.initial,
        error=st.error,
    )
    return JSONResponse(body.model_dump(exclude_none=True), 200 if st.status == "UP" else 503)


async def setup(request: Request, st: ServerState) -> Response:
    body = await read_body(request, SetupRequest, st.max_body_bytes)
    model = st.require_model()
    project = st.projects.get(project_id(body.project))
    st.use_config(model, project, body.schema_, field="schema")
    project.extra_params = st.extra_params(body.extra_params)
    project.hostname, project.access_token = body.hostname, body.access_token
    st.projects.remember_setup(project)
    return JSONResponse({"model_version": st.projects.version(project.id)})


async def predict(request: Request, st: ServerState) -> Response:
    body = await read_body(request, PredictRequest, st.max_body_bytes)
    model = st.require_model()
    project = st.projects.get(
        project_id_field(body.project, "project") if body.project else DEFAULT_PROJECT
    )
    st.use_config(model, project, body.label_config, field="label_config")
    if not body.tasks:
        return JSONResponse({"results": []})
    tasks = [task.model_dump() for task in body.tasks]
    context = body.params.context if body.params else None
    version = st.projects.version(project.id)
    try:
        results, failures = await st.queue.predict(model, tasks, project, context, version)
    except QueueFull as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    st.metrics.predictions += len(tasks)
    st.metrics.prediction_errors += failures
    return JSONResponse({"results": results})


async def webhook(request: Request, st: ServerState) -> Response:
    body = await read_body(request, WebhookRequest, st.max_body_bytes)
    model = st.require_model()
    pid = _webhook_project(body)
    if pid is None:
        return _training("not started", reason=f"{body.action} names no project")
    project = st.projects.get(pid)
    xml = (body.project or {}).get("label_config")
    if xml:
        try:
            st.projects.use_config(model, project, xml)
        except (LabelConfigError, UnsupportedConfig) as exc:
            return _training("not started", reason=str(exc))
    count = st.projects.count_event(pid, body.action)
    if not model.should_train(body.action, count):
        return _training("not started", reason=f"{body.action} does not start training")
    return _submit(st, project, body.action)


async def train(request: Request, st: ServerState) -> Response:
    body = await read_body(request, TrainRequest, st.max_body_bytes)
    model = st.require_model()
    project = st.projects.get(project_id(body.project))
    st.use_config(model, project, body.label_config, field="label_config")
    return _submit(st, project, "TRAIN", delivered=body.annotations)


async def metrics(request: Request, st: ServerState) -> Response:
    active = [j.state for j in st.training.jobs()]
    gauges = {
        "model_up": ("1 once the model is loaded and warmed up.", {(): int(st.status == "UP")}),
        "inference_queue_depth": ("Predict calls waiting for a worker.", {(): st.queue.depth}),
        "training_jobs_active": (
            "Training jobs queued or running.",
            {(("state", s.value),): active.count(s) for s in (JobState.QUEUED, JobState.RUNNING)},
        ),
    }
    return PlainTextResponse(st.metrics.render(gauges), media_type="text/plain; version=0.0.4")


def _submit(
    st: ServerState, project: Project, reason: str, delivered: list | None = None
) -> Response:
    """Queue training; ``delivered`` are the annotated tasks when Label Studio sent them along."""
    if not st.manifest.has(Capability.TRAINING):
        return _training("not started", reason=f"{st.manifest.name} does not train")
    project.delivered_tasks = delivered
    queued, joined = st.training.submit(project, reason)
    note = "joined the job already waiting" if joined else None
    return _training("queued", job_id=queued.id, reason=note, status_code=201)


def _training(state: str, *, status_code: int = 200, **fields: Any) -> JSONResponse:
    body = WebhookResponse(training=state, **fields)
    return JSONResponse(body.model_dump(exclude_none=True), status_code)


def _webhook_project(body: WebhookRequest) -> str | None:
    """The project id from the event: ``project.id``, else the annotation's or task's project."""
    raw = (body.project or {}).get("id")
    for part in (body.annotation, body.task):
        if raw is None and isinstance(part, dict):
            raw = part.get("project")
    return None if raw is None else project_id_field(str(raw), "project")


async def _http_error(request: Request, exc: HTTPException) -> Response:
    words = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
    message = f"{words}: {request.method} {request.url.path}"
    return JSONResponse({"error": message}, exc.status_code, headers=exc.headers)


def create_app(
    manifest: Manifest,
    params: dict[str, Any],
    model_dir: Path,
    basic_auth: tuple[str, str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    queue_limit: int = QUEUE_LIMIT,
    inference_workers: int = 1,
) -> Starlette:
    state = ServerState(
        manifest,
        params,
        model_dir,
        max_body_bytes=max_body_bytes,
        queue_limit=queue_limit,
        inference_workers=inference_workers,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette):
        loading = asyncio.create_task(state.start())
        try:
            yield
        finally:
            state.training.shutdown()
            state.queue.close()
            loading.cancel()

    routes = [
        Route("/", _endpoint(health), methods=["GET"]),
        Route("/health", _endpoint(health), methods=["GET"]),
        Route("/setup", _endpoint(setup), methods=["POST"]),
        Route("/predict", _endpoint(predict), methods=["POST"]),
        Route("/webhook", _endpoint(webhook), methods=["POST"]),
        Route("/train", _endpoint(train), methods=["POST"]),
        Route("/versions", _endpoint(routes_training.versions), methods=["GET"]),
        Route("/versions/{name}/activate", _endpoint(routes_training.activate), methods=["POST"]),
        Route("/jobs", _endpoint(routes_training.jobs), methods=["GET"]),
        Route("/jobs", _endpoint(routes_training.start_job), methods=["POST"]),
        Route("/jobs/{job_id}", _endpoint(routes_training.job), methods=["GET"]),
        Route("/jobs/{job_id}/cancel", _endpoint(routes_training.cancel_job), methods=["POST"]),
        Route("/metrics", _endpoint(metrics), methods=["GET"]),
    ]
    middleware = [Middleware(RequestLogMiddleware, metrics=state.metrics, routes=lambda: routes)]
    if basic_auth is not None:
        middleware.append(
            Middleware(BasicAuthMiddleware, user=basic_auth[0], password=basic_auth[1])
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.server = state
    return app


def configure_logging(level: str = "info") -> None:
    """``2026-11-28 13:00:00 INFO message``: the shape the panel's log view parses."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class _Stopped(Exception):
    """SIGTERM arrived; uvicorn re-raises it after its graceful shutdown."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


def serve(
    manifest: Manifest,
    params: dict[str, Any],
    *,
    host: str,
    port: int,
    model_dir: Path,
    log_level: str = "info",
    basic_auth: tuple[str, str] | None = None,
) -> int:
    """Run until SIGINT/SIGTERM, then return 0; 3 when it cannot start (e.g. the port is taken)."""
    configure_logging(log_level)
    app = create_app(manifest, params, model_dir, basic_auth=basic_auth)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        uvicorn.Server(config).run()
    except (KeyboardInterrupt, _Stopped):
        pass
    except SystemExit as exc:  # uvicorn's way of saying it could not bind or start
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
