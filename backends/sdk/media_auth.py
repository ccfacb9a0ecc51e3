"""The Authorization header for Label Studio, for both kinds of token it hands out.

A legacy token is sent as ``Token <t>``. A Personal Access Token is a long-lived JWT refresh
token: Label Studio refuses it as a header and wants it exchanged at ``/api/token/refresh/``
for a short-lived access token, sent as ``Bearer``. The access token is cached until shortly
before it expires, or until Label Studio answers 401.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import httpx

from backends.sdk.media_errors import MediaAuthError, MediaDownloadError

REFRESH_PATH = "/api/token/refresh/"
EXPIRY_MARGIN_S = 30
DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(url: str, base: str) -> bool:
    """Same scheme, host and port: the only place a Label Studio token may be sent."""
    a, b = httpx.URL(url), httpx.URL(base)
    return (a.scheme, a.host.lower(), a.port or DEFAULT_PORTS.get(a.scheme)) == (
        b.scheme,
        b.host.lower(),
        b.port or DEFAULT_PORTS.get(b.scheme),
    )


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The (unverified) payload if ``token`` has a JWT's shape, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, payload = (
            json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in parts[:2]
        )
    except ValueError:
        return None
    if not isinstance(header, dict) or "alg" not in header or not isinstance(payload, dict):
        return None
    return payload


class LabelStudioToken:
    """Produces headers for requests to Label Studio; thread-safe."""

    def __init__(self, token: str, hostname: str | None, client: httpx.Client):
        self._token = token
        self._hostname = hostname
        self._client = client
        self.renewable = jwt_claims(token) is not None
        self._lock = threading.Lock()
        self._access: str | None = None
        self._access_expires = 0.0

    def headers(self) -> dict[str, str]:
        if not self.renewable:
            return {"Authorization": f"Token {self._token}"}
        with self._lock:
            if self._access is None or time.time() >= self._access_expires - EXPIRY_MARGIN_S:
                self._access = self._refresh()
                expires = (jwt_claims(self._access) or {}).get("exp")
                self._access_expires = float(expires) if expires else float("inf")
            return {"Authorization": f"Bearer {self._access}"}

    def forget_access(self) -> None:
        with self._lock:
            self._access = None

    def refused_hint(self) -> str:
        """Why Label Studio would answer 401 to this kind of token."""
        if self.renewable:
            return (
                "Label Studio refused a fresh access token made from the Personal Access Token; "
                "the user may have been deactivated"
            )
        return "the token is wrong or legacy tokens are disabled — use a Personal Access Token"

    def _refresh(self) -> str:
        url = f"{self._hostname}{REFRESH_PATH}"
        try:
            response = self._client.post(url, json={"refresh": self._token})
        except httpx.HTTPError as error:
            raise MediaDownloadError(
                f"Could not reach Label Studio at {self._hostname} to exchange the "
                f"Personal Access Token ({error})."
            ) from error
        access = _json(response).get("access") if response.status_code == 200 else None
        if response.status_code in (400, 401, 403):
            raise MediaAuthError(
                f"{response.status_code} from Label Studio while exchanging the Personal Access "
                f"Token at {REFRESH_PATH}: it was revoked, or it belongs to another Label Studio "
                "instance. Create a new one under Account & Settings."
            )
        if not isinstance(access, str):
            raise MediaAuthError(
                f"{response.status_code} from Label Studio at {REFRESH_PATH}: no access token "
                "came back, so the Personal Access Token can't be used. If this Label Studio has "
                "no Personal Access Tokens, use its legacy token instead."
            )
        return access


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
