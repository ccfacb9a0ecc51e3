"""The state one model server shares between its routes, and how the model gets loaded.

The model is built on a worker thread so the event loop keeps answering ``/health`` (LOADING)
meanwhile; versions trained earlier are restored before the server reports UP.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from backends.sdk.batching import InferenceQueue
from backends.sdk.catalog import import_model_class
from backends.sdk.label_config import LabelConfigError, UnsupportedConfig
from backends.sdk.manifest import Manifest, ParameterError
from backends.sdk.metrics import Metrics
from backends.sdk.model import Model, Project
from backends.sdk.projects import ProjectRegistry
from backends.sdk.training import TrainingManager
from backends.sdk.versions import VersionStore
from backends.sdk.wire import ApiError

log = logging.getLogger("ml_launcher.server")


class ServerState:
    """Everything the routes share; the model is ``None`` until loaded and warmed up."""

    def __init__(
        self,
        manifest: Manifest,
        params: dict[str, Any],
        model_dir: Path,
        *,
        max_body_bytes: int,
        queue_limit: int,
        inference_workers: int,
    ):
        self.manifest, self.params, self.model_dir = manifest, params, Path(model_dir)
        self.max_body_bytes = max_body_bytes
        self.class_name = manifest.model_class.partition(":")[2]
        self.status, self.error = "LOADING", None
        self.model: Model | None = None
        self.store = VersionStore(self.model_dir, self.class_name)
        self.projects = ProjectRegistry(self.model_dir, self.store.initial)
        self.metrics = Metrics()
        self.queue = InferenceQueue(inference_workers, queue_limit)
        self.training = TrainingManager(lambda: self.model, self.store, self.projects, self.metrics)

    async def start(self) -> None:
        try:
            await self.queue.run_unqueued(self._load)
        except Exception as exc:
            self.status, self.error = "FAILED", f"{type(exc).__name__}: {exc}"
            log.exception("model failed to load; /health answers 503 FAILED until restarted")

    def _load(self) -> None:
        self.training.restore()
        log.info("loading %s (%s)", self.manifest.name, self.manifest.model_class)
        model = import_model_class(self.manifest)(self.manifest, self.params, self.model_dir)
        model.setup()
        model.warmup()
        self._restore_versions(model)
        self.model, self.status = model, "UP"
        log.info("model %s is up", self.class_name)

    def _restore_versions(self, model: Model) -> None:
        for pid in self.store.projects():
            for leftover in self.store.remove_leftovers(pid):
                log.info("removed unfinished training run %s", leftover)
            name = self.store.active(pid)
            if name is None:
                continue
            try:
                model.load_version(self.projects.get(pid), self.store.version_dir(pid, name))
            except Exception:
                log.exception(
                    "could not load version %s of project %s; serving %s instead",
                    name,
                    pid,
                    self.store.initial,
                )
                continue
            self.projects.activate(pid, name)
            log.info("project %s serves version %s", pid, name)

    def require_model(self) -> Model:
        if self.model is not None:
            return self.model
        if self.status == "FAILED":
            raise ApiError(503, f"model failed to load: {self.error}")
        raise ApiError(503, "model is still loading", headers={"Retry-After": "5"})

    def use_config(self, model: Model, project: Project, xml: str | None, field: str) -> None:
        try:
            self.projects.use_config(model, project, xml)
        except (LabelConfigError, UnsupportedConfig) as exc:
            raise ApiError(422, str(exc), field=field) from None
        if project.label_config is None:
            raise ApiError(422, f"{field}: required; this project was never set up", field=field)

    def extra_params(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Per-project overrides from Label Studio, checked like every other parameter."""
        if not raw:
            return {}
        try:
            checked = self.manifest.validate_params({**self.params, **raw}, allow_unknown=True)
        except ParameterError as exc:
            raise ApiError(422, f"extra_params.{exc}", field=f"extra_params.{exc.name}") from None
        return {key: checked[key] for key in raw}
