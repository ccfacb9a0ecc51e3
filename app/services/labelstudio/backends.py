"""Connect a model server to a project as its ML backend, and disconnect it cleanly.

Three things Label Studio 1.23.2 gets wrong are handled here:

* It creates a project webhook ``<url>/webhook`` for every new ML backend but sends it
  *without* the backend's basic-auth credentials, so a protected backend never hears about
  annotations. After connecting, that webhook gets the server's webhook token header.
* Deleting the ML backend leaves the webhook behind; after a reconnect every event arrives
  twice. Disconnect removes both.
* With SSRF protection on (its default) it saves the backend, then refuses the webhook to a
  private address and answers 403 "reserved network address", just as when it refuses the
  backend itself (``ML_BLOCK_LOCAL_IP``). Connect tells the two apart by whether the backend
  now exists, and returns it with a warning rather than an error it already overrode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.services.labelstudio.connection import Studio
from app.services.labelstudio.errors import RESERVED_ADDRESS, StudioError
from app.services.labelstudio.projects import config_problem
from backends.sdk.auth import WEBHOOK_TOKEN_HEADER, webhook_token
from backends.sdk.manifest import Manifest

STATES = {
    "CO": "connected",
    "DI": "disconnected",
    "ER": "error",
    "TR": "training",
    "PR": "predicting",
}


@dataclass(frozen=True)
class BackendOptions:
    url: str  # as Label Studio reaches the model server
    title: str
    basic_auth: tuple[str, str] | None = None
    extra_params: dict[str, Any] | None = None
    interactive: bool = False


@dataclass(frozen=True)
class ConnectedBackend:
    id: int
    project_id: int
    title: str
    url: str
    state: str  # connected | disconnected | error | ...
    model_version: str | None
    error: str | None = None
    interactive: bool = False
    basic_auth: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)


def webhook_url(backend_url: str) -> str:
    return backend_url.rstrip("/") + "/webhook"


def _backend(ml: Any, warnings: tuple[str, ...] = ()) -> ConnectedBackend:
    return ConnectedBackend(
        id=int(ml.id),
        project_id=int(ml.project),
        title=ml.title or "",
        url=(ml.url or "").rstrip("/"),
        state=STATES.get(str(ml.state), str(ml.state)),
        model_version=ml.model_version or None,
        error=ml.error_message or None,
        interactive=bool(ml.is_interactive),
        basic_auth=str(ml.auth_method) == "BASIC_AUTH",
        warnings=warnings,
    )


async def list_backends(studio: Studio, project_id: int) -> list[ConnectedBackend]:
    """The project's ML backends (Label Studio checks each one's health while answering)."""
    return [_backend(ml) for ml in await studio.call(studio.client.ml.list, project=project_id)]


async def connect(
    studio: Studio, project_id: int, options: BackendOptions, manifest: Manifest | None = None
) -> ConnectedBackend:
    """Add the model server as the project's ML backend; its webhook gets the token header."""
    if manifest is not None:
        project = await studio.call(studio.client.projects.get, project_id)
        problem = config_problem(manifest, project.label_config or "")
        if problem:
            raise StudioError(problem)
    auth: dict[str, Any] = {}
    if options.basic_auth:
        user, password = options.basic_auth
        auth = {"auth_method": "BASIC_AUTH", "basic_auth_user": user, "basic_auth_pass": password}
    try:
        ml = await studio.call(
            studio.client.ml.create,
            project=project_id,
            url=options.url.rstrip("/"),
            title=options.title,
            is_interactive=options.interactive,
            extra_params=options.extra_params,
            **auth,
        )
    except StudioError as exc:
        saved = await _saved_anyway(studio, project_id, options) if _private(exc) else None
        if saved is None:
            raise _unreachable(exc, options.url) from exc
        return _backend(saved, (webhook_refused(options.url),))
    warnings = await _secure_webhooks(studio, project_id, options)
    return _backend(ml, tuple(warnings))


def _private(exc: StudioError) -> bool:
    return exc.status == 403 and RESERVED_ADDRESS in str(exc)


async def _saved_anyway(studio: Studio, project_id: int, options: BackendOptions) -> Any | None:
    """The backend Label Studio kept although its webhook's SSRF check failed the request."""
    url = options.url.rstrip("/")
    kept = [
        ml
        for ml in await studio.call(studio.client.ml.list, project=project_id)
        if (ml.url or "").rstrip("/") == url and ml.title == options.title
    ]
    return max(kept, key=lambda ml: ml.id, default=None)


def webhook_refused(url: str) -> str:
    return (
        f"Label Studio will not send annotation webhooks to {webhook_url(url)}: it is a local "
        "or private address and Label Studio's SSRF protection is on (its default). "
        "Predictions work, but the model never hears about new annotations, so it does not "
        "train on its own. Start Label Studio with SSRF_PROTECTION_ENABLED=false (the local "
        "Label Studio this app starts does), or give the model an address Label Studio may use."
    )


def _unreachable(exc: StudioError, url: str) -> StudioError:
    text = str(exc)
    if _private(exc):
        return StudioError(
            f"Label Studio refused the model server's address {url}: it is a local or private "
            "network address, and Label Studio blocks those for ML backends by default. Start "
            "Label Studio with ML_BLOCK_LOCAL_IP=false (the local Label Studio this app starts "
            "does), or give the model an address Label Studio may use.",
            status=403,
        )
    if exc.status == 400 and "Can't connect" in text:
        return StudioError(
            f"Label Studio could not reach the model server at {url}. That address must work "
            "from where Label Studio runs: in Docker use host.docker.internal, on another "
            "machine use this machine's network address (and let the server listen on it).",
            status=400,
        )
    if exc.status == 400 and "doesn't look like a valid ML backend" in text:
        return StudioError(f"{url} answers, but not as an ML backend: {text}", status=400)
    return exc


async def _secure_webhooks(studio: Studio, project_id: int, options: BackendOptions) -> list[str]:
    """Give Label Studio's auto-created webhook the token header; report blocked webhooks.

    The update always re-sends the URL, which makes Label Studio run its SSRF check now; a
    refusal means the webhook would never have been delivered.
    """
    headers = {}
    if options.basic_auth:
        headers = {WEBHOOK_TOKEN_HEADER: webhook_token(*options.basic_auth)}
    warnings = []
    for hook in await _webhooks_for(studio, project_id, options.url):
        try:
            await studio.call(studio.client.webhooks.update, hook.id, url=hook.url, headers=headers)
        except StudioError as exc:
            warnings.append(webhook_refused(options.url) if _private(exc) else str(exc))
    return warnings


async def _webhooks_for(studio: Studio, project_id: int, backend_url: str) -> list[Any]:
    target = webhook_url(backend_url)
    hooks = await studio.call(studio.client.webhooks.list, project=str(project_id))
    return [h for h in hooks if (h.url or "").rstrip("/") == target]


async def disconnect(studio: Studio, backend_id: int) -> int:
    """Remove the ML backend and the webhook Label Studio made for it; returns webhooks removed."""
    ml = await studio.call(studio.client.ml.get, backend_id)
    project_id, url = int(ml.project), ml.url or ""
    await studio.call(studio.client.ml.delete, backend_id)
    others = [b for b in await list_backends(studio, project_id) if b.url == url.rstrip("/")]
    if others:  # another backend with the same URL still needs the webhook
        return 0
    hooks = await _webhooks_for(studio, project_id, url)
    for hook in hooks:
        await studio.call(studio.client.webhooks.delete, hook.id)
    return len(hooks)


async def update(studio: Studio, backend: ConnectedBackend, **fields: Any) -> ConnectedBackend:
    """Change title / interactive / extra params. Label Studio answers 500 unless the PATCH
    also carries ``url`` and ``project``, so they are always sent."""
    ml = await studio.call(
        studio.client.ml.update, backend.id, url=backend.url, project=backend.project_id, **fields
    )
    return _backend(ml)
