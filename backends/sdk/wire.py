"""What travels over HTTP: request and response bodies, and turning bad ones into clear 4xx JSON.

Request types accept what Label Studio 1.23.2 really sends (extra keys everywhere, ``null``
where a value is optional, ``extra_params`` as an object or as a JSON string) and refuse the
rest with a message naming the field, so no client mistake ever surfaces as a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request

_PROJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ApiError(Exception):
    """A request the server refuses on purpose; becomes ``{"error", "field"?}`` with ``status``."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return ErrorResponse(error=self.error, field=self.field).model_dump(exclude_none=True)


def project_id(uid: str) -> str:
    """``"62053.1712586036"`` -> ``"62053"``; the id names a directory, so it must be plain."""
    pid = uid.split(".", 1)[0].strip()
    if not _PROJECT_ID.match(pid):
        raise ValueError(f"expected '<id>.<timestamp>' with a plain id, got {uid!r}")
    return pid


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class SetupRequest(_Body):
    project: str
    schema_: str = Field(alias="schema")
    hostname: str | None = None
    access_token: str | None = None
    extra_params: dict[str, Any] | None = None

    @field_validator("project")
    @classmethod
    def _plain_project(cls, value: str) -> str:
        project_id(value)
        return value

    @field_validator("extra_params", mode="before")
    @classmethod
    def _object_or_json_string(cls, value: Any) -> Any:
        """Label Studio sends whatever its form held: an object, a JSON string, or null."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None


class Task(_Body):
    id: int | str | None = None
    data: dict[str, Any]


class PredictParams(_Body):
    login: str | None = None
    password: str | None = None
    context: dict[str, Any] | None = None


class PredictRequest(_Body):
    tasks: list[Task]
    project: str | None = None
    label_config: str | None = None
    params: PredictParams | None = None


class WebhookRequest(_Body):
    """Any project event; only ``action`` is required (START_TRAINING has no annotation)."""

    action: str = Field(min_length=1)
    project: dict[str, Any] | None = None
    annotation: dict[str, Any] | list[Any] | None = None
    task: dict[str, Any] | list[Any] | None = None


class TrainRequest(_Body):
    """The legacy ``/train`` body Label Studio sends when its webhook flag is off."""

    project: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    label_config: str | None = None

    @field_validator("project")
    @classmethod
    def _plain_project(cls, value: str) -> str:
        project_id(value)
        return value


class SetupResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model_version: str


class PredictResponse(BaseModel):
    results: list[dict[str, Any] | list[dict[str, Any]]]


class HealthResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    status: str  # LOADING | UP | FAILED
    model_class: str
    model_version: str | None = None
    error: str | None = None


class WebhookResponse(BaseModel):
    status: str = "ok"
    training: str  # queued | not started
    job_id: str | None = None  # not "job": Label Studio would poll a /job_status we do not serve
    reason: str | None = None


class VersionInfo(BaseModel):
    version: str
    active: bool
    created_at: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class VersionsResponse(BaseModel):
    versions: list[str]  # what Label Studio's version dropdown reads
    projects: dict[str, list[VersionInfo]] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: str
    field: str | None = None
    error_id: str | None = None


Body = TypeVar("Body", bound=BaseModel)


async def read_body(request: Request, model: type[Body], max_bytes: int) -> Body:
    """Read at most ``max_bytes`` of JSON and validate it, or raise an ``ApiError`` naming why."""
    raw = await _read_limited(request, max_bytes)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body: not valid JSON ({exc})", field="body") from None
    if not isinstance(data, dict):
        raise ApiError(
            422, f"body: expected a JSON object, got {type(data).__name__}", field="body"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        message = first["msg"].removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        raise ApiError(422, f"{field}: {message}", field=field) from None


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "content-length: not a number", field="content-length")
        if int(declared) > max_bytes:
            raise ApiError(413, _too_large(max_bytes))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, _too_large(max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> str:
    return (
        f"body: larger than the server's limit of {max_bytes} bytes; send fewer tasks per request"
    )
