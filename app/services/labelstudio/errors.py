"""Turn what Label Studio and the network throw into one sentence a user can act on.

Label Studio's own answers are terse ("URL resolves to a reserved network address") or buried
in a header dump (the SDK's ``str(ApiError)``); every call in this package goes through
:func:`explain`, so the panel and the CLI show the same plain words with the fix.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
from label_studio_sdk.core.api_error import ApiError

LEGACY_DISABLED = "legacy token authentication has been disabled"
RESERVED_ADDRESS = "reserved network address"
# Label Studio's SSRF check says this (mentioning "SSRF protection") only for a URL that is not
# http(s): a private address gets RESERVED_ADDRESS instead, for ML backends and webhooks alike.
NOT_HTTP = "URLs must use http:// or https://"


class StudioError(Exception):
    """A Label Studio operation failed; ``str()`` is a sentence meant for the user."""

    def __init__(self, sentence: str, *, status: int | None = None):
        super().__init__(sentence)
        self.status = status


def detail(body: Any) -> str:
    """The human part of a Label Studio error body (``detail`` / validation errors / text)."""
    if isinstance(body, dict):
        errors = body.get("validation_errors")
        if isinstance(errors, dict) and errors:
            parts = []
            for field, messages in errors.items():
                text = (
                    " ".join(str(m) for m in messages)
                    if isinstance(messages, list)
                    else str(messages)
                )
                parts.append(text if field == "non_field_errors" else f"{field}: {text}")
            return _plain(" ".join(parts))
        for key in ("detail", "error", "errors", "message"):
            if body.get(key):
                return _plain(str(body[key]))
        return _plain(str(body))
    if isinstance(body, str) and body.lstrip().startswith("<"):
        return "an HTML page instead of JSON"
    return _plain(str(body or ""))


def _plain(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text)  # Label Studio puts <a href> links into messages
    return re.sub(r"\s+", " ", text).strip()


def explain(exc: BaseException, url: str) -> StudioError:
    """Map a network error or an SDK ``ApiError`` to a :class:`StudioError` sentence."""
    if isinstance(exc, StudioError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return StudioError(f"Label Studio at {url} did not answer in time; is it busy or stuck?")
    if isinstance(exc, httpx.TransportError):
        return StudioError(
            f"Cannot reach Label Studio at {url} ({exc or type(exc).__name__}). "
            "Check that it is running and that the address and port are right."
        )
    if not isinstance(exc, ApiError):
        return StudioError(f"Label Studio at {url}: {exc}")
    status, text = exc.status_code, detail(exc.body)
    if status == 401 and LEGACY_DISABLED in text:
        return StudioError(
            "Label Studio refused the token (401): legacy tokens are disabled in this "
            "organization. Use a Personal Access Token instead: in Label Studio open "
            "Account & Settings > Personal Access Token, create one and paste it here "
            "(or ask an admin to enable legacy tokens in Organization > API Tokens).",
            status=401,
        )
    if status == 401:
        return StudioError(
            f"Label Studio refused the token (401: {text or 'not authenticated'}). Copy a "
            "fresh one from Account & Settings (Personal Access Token or legacy Access Token).",
            status=401,
        )
    if status == 403 and RESERVED_ADDRESS in text:
        return StudioError(
            "Label Studio refused the model's address because it is a local or private "
            f"network address ({text}). Label Studio blocks such ML backend URLs by default: "
            "start Label Studio with ML_BLOCK_LOCAL_IP=false (the local Label Studio this app "
            "starts does), or give the model an address Label Studio may use.",
            status=403,
        )
    if status == 403 and NOT_HTTP in text:
        return StudioError(
            "Label Studio accepts only addresses that start with http:// or https://, "
            "e.g. http://127.0.0.1:9090: check the address.",
            status=403,
        )
    if status == 403:
        return StudioError(
            f"Label Studio says this user may not do that (403: {text}). Ask an admin of the "
            "organization for the needed role.",
            status=403,
        )
    if status == 404:
        return StudioError(f"Label Studio has no such object (404: {text}).", status=404)
    if status is not None and status >= 500:
        return StudioError(
            f"Label Studio failed with an internal error ({status}: {text}); its log says more.",
            status=status,
        )
    return StudioError(f"Label Studio refused the request ({status}: {text}).", status=status)


@contextlib.contextmanager
def explained(url: str) -> Iterator[None]:
    """Re-raise anything from the SDK or httpx as a :class:`StudioError`."""
    try:
        yield
    except (ApiError, httpx.HTTPError) as exc:
        raise explain(exc, url) from exc
