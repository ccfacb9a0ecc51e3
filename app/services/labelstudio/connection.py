"""One Label Studio server as the app sees it: URL, token, SDK client, and "Test connection".

Every other module takes a :class:`Studio` and calls the SDK through :meth:`Studio.call`, which
runs the blocking client in a worker thread and turns failures into plain sentences. The token
lives in the OS keyring, keyed by the server's URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from app.services import secrets
from app.services.labelstudio.errors import StudioError, explain, explained

T = TypeVar("T")

_KEYRING_PREFIX = "labelstudio-token:"


def normalize_url(url: str) -> str:
    """``localhost:8080/`` -> ``http://localhost:8080``: what users paste, as the SDK wants it."""
    url = url.strip().rstrip("/")
    if not url:
        raise StudioError("Enter Label Studio's URL, e.g. http://localhost:8080.")
    if "://" not in url:
        url = "http://" + url
    return url


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str
    user: str | None = None
    version: str | None = None


class Studio:
    """A Label Studio URL plus token; legacy tokens and Personal Access Tokens both work.

    With a PAT the SDK exchanges it for short-lived access tokens and refreshes them itself.
    """

    def __init__(self, url: str, token: str, *, timeout: float = 120.0):
        self.url = normalize_url(url)
        self.token = token.strip()
        self.timeout = timeout
        self._client: LabelStudio | None = None

    @property
    def client(self) -> LabelStudio:
        if self._client is None:
            if not self.token:
                raise StudioError(
                    "Enter a Label Studio token (Account & Settings in Label Studio)."
                )
            try:  # an expired PAT is refused here, before any request
                self._client = LabelStudio(
                    base_url=self.url, api_key=self.token, timeout=self.timeout
                )
            except ApiError as exc:
                raise explain(exc, self.url) from exc
        return self._client

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking SDK call off the event loop; errors come back as StudioError."""

        def guarded() -> T:
            with explained(self.url):
                return fn(*args, **kwargs)

        return await asyncio.to_thread(guarded)

    def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call the SDK 2.1.2 lacks, sent with the SDK's own (refreshing) auth."""
        with explained(self.url):
            response = self.client._client_wrapper.httpx_client.request(
                path, method=method, **kwargs
            )
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                raise ApiError(status_code=response.status_code, body=body)
            return response.json() if response.content else None

    async def test(self) -> ConnectionReport:
        """Say in one sentence whether this URL is a Label Studio and this token opens it."""
        try:
            version = await _probe(self.url)
            me = await self.call(lambda: self.client.users.whoami())
        except StudioError as exc:
            return ConnectionReport(ok=False, message=str(exc))
        user = me.email or me.username or f"user {me.id}"
        return ConnectionReport(
            ok=True,
            message=f"Connected to Label Studio {version} at {self.url} as {user}.",
            user=user,
            version=version,
        )

    def close(self) -> None:
        if self._client is not None:
            self._client._client_wrapper.httpx_client.httpx_client.close()
            self._client = None


async def _probe(url: str) -> str:
    """Reach the server without a token: is it up, and is it Label Studio? Returns its version.

    Raw httpx on purpose: the SDK always authenticates, and this check must work before the
    token is known to be good.
    """
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=True) as http:
        try:
            health = await http.get(f"{url}/health")
            version = await http.get(f"{url}/api/version")
        except httpx.HTTPError as exc:
            raise explain(exc, url) from exc
    try:
        up = health.status_code == 200 and health.json().get("status") == "UP"
        release = version.json().get("release") if version.status_code == 200 else None
    except (ValueError, AttributeError):
        up, release = False, None
    if not up or not release:
        raise StudioError(
            f"{url} answers, but it is not a Label Studio (GET /health gave {health.status_code}). "
            "Use the address you open Label Studio with in the browser, e.g. http://localhost:8080."
        )
    return str(release)


def remember_token(url: str, token: str) -> None:
    secrets.set_secret(_KEYRING_PREFIX + normalize_url(url), token)


def remembered_token(url: str) -> str | None:
    return secrets.get_secret(_KEYRING_PREFIX + normalize_url(url))


def forget_token(url: str) -> None:
    secrets.delete_secret(_KEYRING_PREFIX + normalize_url(url))
