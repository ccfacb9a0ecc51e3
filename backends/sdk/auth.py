"""HTTP basic auth for a model server, with a way in for Label Studio's webhooks.

Label Studio sends ``/health``, ``/setup``, ``/predict`` and Start Training with the ML
backend's basic-auth credentials, but its project webhooks only carry the headers stored on the
webhook itself (protocol.md §1.7). Without a way around that, a protected backend never hears
about new annotations. So ``/webhook`` also accepts a shared secret, derived from the
credentials so the panel can compute it without asking the server:

* header ``X-ML-Launcher-Webhook-Token: <webhook_token(user, password)>`` (the panel puts it
  into the Label Studio webhook's headers), or
* query ``/webhook?token=<webhook_token(user, password)>`` (when only the URL can be set).

The token is an HMAC, so it grants nothing but webhooks and does not reveal the password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

WEBHOOK_TOKEN_HEADER = "X-ML-Launcher-Webhook-Token"
WEBHOOK_PATH = "/webhook"
_TOKEN_PURPOSE = b"ml-launcher/webhook/v1"


def webhook_token(user: str, password: str) -> str:
    """The secret that lets Label Studio's webhooks into a server protected by ``user:password``."""
    key = f"{user}:{password}".encode()
    return hmac.new(key, _TOKEN_PURPOSE, hashlib.sha256).hexdigest()


class BasicAuthMiddleware:
    """Every route needs the credentials; ``/webhook`` takes the webhook token instead."""

    def __init__(self, app: ASGIApp, user: str, password: str):
        self.app = app
        self._expected = f"{user}:{password}".encode()
        self._token = webhook_token(user, password).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "authentication required: wrong or missing credentials"})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Basic realm="ML Launcher model server"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

    def _allowed(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        if self._basic_ok(headers.get(b"authorization", b"")):
            return True
        if scope["path"].rstrip("/") != WEBHOOK_PATH:
            return False
        given = headers.get(WEBHOOK_TOKEN_HEADER.lower().encode())
        if given is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token", [""])[0].encode()
        return hmac.compare_digest(given, self._token)

    def _basic_ok(self, header: bytes) -> bool:
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(decoded, self._expected)
