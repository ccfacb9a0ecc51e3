"""Turn a task's media reference (URL, Label Studio path, cloud URI) into a local file.

Models want files; Label Studio tasks hold links that need Label Studio's token, its presign
endpoint, or a shared local-files root. The token only ever goes to Label Studio's own origin:
redirects are followed by hand so a presigned bucket URL never sees it.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

import httpx
import platformdirs

from backends.sdk.media_auth import LabelStudioToken, same_origin
from backends.sdk.media_cache import MediaCache
from backends.sdk.media_errors import (
    MediaAuthError,
    MediaConfigError,
    MediaDownloadError,
    MediaError,
    MediaNotFound,
    MediaTooLarge,
    UnsafeLocalPath,
    UnsupportedMedia,
)

__all__ = [
    "MediaAuthError",
    "MediaConfigError",
    "MediaDownloadError",
    "MediaError",
    "MediaNotFound",
    "MediaResolver",
    "MediaTooLarge",
    "UnsafeLocalPath",
    "UnsupportedMedia",
]

DEFAULT_MAX_CACHE_BYTES = 1024**3
MAX_REDIRECTS = 5
CLOUD_URI = re.compile(r"^[a-z][a-z0-9+.-]+://", re.IGNORECASE)


class MediaResolver:
    """Resolves task media to local paths, downloading into a size-bounded cache.

    ``hostname``/``token`` default to ``LABEL_STUDIO_URL``/``LABEL_STUDIO_API_KEY`` (the names
    upstream backends read) and ``local_files_root`` to ``LOCAL_FILES_DOCUMENT_ROOT``. The token
    may be a legacy token or a Personal Access Token (a JWT, exchanged for access tokens).
    Thread-safe: models call it from worker threads.
    """

    def __init__(
        self,
        hostname: str | None = None,
        token: str | None = None,
        cache_dir: Path | None = None,
        max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
        local_files_root: Path | None = None,
        *,
        max_file_bytes: int | None = None,
        timeout: float = 30.0,
    ):
        hostname = hostname or _env("LABEL_STUDIO_URL", "LABEL_STUDIO_HOST")
        if hostname and not re.match(r"^https?://[^/]", hostname):
            raise MediaConfigError(
                f"Label Studio URL {hostname!r} must start with http:// or https://"
            )
        self.hostname = hostname.rstrip("/") if hostname else None
        root = local_files_root or _env(
            "LOCAL_FILES_DOCUMENT_ROOT", "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
        )
        self.local_files_root = Path(root).resolve() if root else None
        self.max_file_bytes = max_file_bytes or max_cache_bytes
        self.timeout = timeout
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=timeout,
            headers={"User-Agent": "ml-launcher-media"},
        )
        token = token or _env("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_ACCESS_TOKEN")
        self._token = LabelStudioToken(token, self.hostname, self._client) if token else None
        self._cache = MediaCache.shared(
            cache_dir or platformdirs.user_cache_path("ml-launcher") / "media", max_cache_bytes
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MediaResolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def resolve(self, value: str, task_id: int | str | None = None) -> Path:
        """A local path holding the media ``value`` of task ``task_id``.

        Raises a ``MediaError`` subclass with a sentence for the user on any failure.
        """
        if not isinstance(value, str):
            raise UnsupportedMedia(f"Can't load {value!r}: media links are strings.")
        value = value.strip()
        if urlsplit(value).scheme.lower() in ("http", "https"):
            return self._fetch(value, url=value, shown=value)
        if CLOUD_URI.match(value):
            url = self._presign_url(value, task_id)
            return self._fetch(value, url=url, shown=value)
        path = "/data" + value if value.startswith("/upload/") else value
        path = "/data/" + path if path.startswith("upload/") else path
        parts = urlsplit(path)
        if parts.path == "/storage-data/uploaded/":
            # Label Studio answers this with an nginx redirect unless nginx serves uploads;
            # /data/upload/ serves the same file from any storage.
            filepath = _query_value(parts.query, "filepath") or ""
            if filepath.startswith("upload/"):
                path = "/data/" + filepath
                parts = urlsplit(path)
        if parts.path.startswith("/data/local-files"):
            local = self._local_file(value, parts.query)
            return local or self._fetch_from_ls(path, name=_query_value(parts.query, "d") or "")
        if parts.path.startswith(("/data/", "/storage-data/")):
            return self._fetch_from_ls(path, name=parts.path)
        raise UnsupportedMedia(
            f"Can't load {value!r}: it is neither a web link, a Label Studio file path "
            "(/data/upload/..., /data/local-files/?d=...) nor a cloud storage URI (s3://...)."
        )

    def _local_file(self, value: str, query: str) -> Path | None:
        """The file under the shared local-files root, or None when Label Studio must serve it."""
        relative = _query_value(query, "d")
        if not relative:
            raise UnsupportedMedia(f"Can't load {value!r}: the local-files link has no ?d= path.")
        if self.local_files_root is None:
            return None
        root = self.local_files_root
        refuse = f"Refusing {value!r}: ?d={relative} "
        if PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).anchor:
            raise UnsafeLocalPath(refuse + f"is absolute; it must be relative to {root}.")
        if ".." in PurePosixPath(relative.replace("\\", "/")).parts:
            raise UnsafeLocalPath(refuse + f"climbs out of the local-files root {root} with '..'.")
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root):
            raise UnsafeLocalPath(refuse + f"is a symlink leading out of the root {root}.")
        return candidate if candidate.is_file() else None

    def _presign_url(self, uri: str, task_id: int | str | None) -> str:
        if task_id is None:
            raise MediaConfigError(
                f"Can't load {uri}: cloud storage files are fetched through Label Studio's "
                "presign endpoint, which needs the task id."
            )
        encoded = base64.urlsafe_b64encode(uri.encode()).decode()
        return self._ls_url(f"/tasks/{task_id}/presign/?fileuri={encoded}", uri)

    def _ls_url(self, path: str, shown: str) -> str:
        if self.hostname is None:
            raise MediaConfigError(
                f"Can't load {shown}: Label Studio's URL is unknown. Connect the model from "
                "Label Studio (it sends its URL in /setup) or set LABEL_STUDIO_URL."
            )
        if self._token is None:
            raise MediaConfigError(
                f"Can't load {shown}: no Label Studio token. Set LABEL_STUDIO_API_KEY to a "
                "Personal Access Token (Account & Settings in Label Studio)."
            )
        return self.hostname + path

    def _fetch_from_ls(self, path: str, name: str) -> Path:
        url = self._ls_url(path, path)
        return self._fetch(url, url=url, shown=path, name=name)

    def _fetch(self, key: str, url: str, shown: str, name: str | None = None) -> Path:
        """The cached download of ``url``; ``key`` names it in the cache, ``shown`` in errors."""
        suffix = _suffix(name if name is not None else shown)
        return self._cache.get_or_fill(key, suffix, lambda out: self._download(url, shown, out))

    def _download(self, url: str, shown: str, out: BinaryIO) -> None:
        """GET ``url`` into ``out``, following redirects with the token only on LS's origin."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._open(url, shown)
            try:
                if response.is_redirect:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                self._check(response, shown)
                for chunk in self._body(response, shown):
                    out.write(chunk)
                return
            finally:
                response.close()
        raise MediaDownloadError(f"Too many redirects (> {MAX_REDIRECTS}) downloading {shown}.")

    def _open(self, url: str, shown: str) -> httpx.Response:
        to_ls = self.hostname is not None and same_origin(url, self.hostname)
        response = self._send(url, shown, to_ls)
        if response.status_code == 401 and to_ls and self._token and self._token.renewable:
            response.close()
            self._token.forget_access()  # expired or revoked early: one fresh try
            response = self._send(url, shown, to_ls)
        return response

    def _send(self, url: str, shown: str, to_ls: bool) -> httpx.Response:
        headers = self._token.headers() if to_ls and self._token else {}
        request = self._client.build_request("GET", url, headers=headers)
        try:
            return self._client.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise MediaDownloadError(
                f"Timed out after {self.timeout:g} s downloading {shown} from {_origin(url)}."
            ) from error
        except httpx.HTTPError as error:
            raise MediaDownloadError(
                f"Could not download {shown}: {_origin(url)} is unreachable ({error})."
            ) from error

    def _check(self, response: httpx.Response, shown: str) -> None:
        status = response.status_code
        if status < 400:
            if "x-accel-redirect" in response.headers:
                raise MediaDownloadError(
                    f"Label Studio answered {shown} with an nginx redirect but no nginx serves it; "
                    "use the /data/upload/... link or set USE_NGINX_FOR_UPLOADS=false there."
                )
            return
        to_ls = self.hostname is not None and same_origin(str(response.url), self.hostname)
        where = "Label Studio" if to_ls else _origin(str(response.url))
        said = _detail(response, where)
        prefix = f"{status} from {where} while downloading {shown}: "
        if status in (401, 403):
            raise MediaAuthError(prefix + self._refusal_hint(status, to_ls, shown) + said)
        if status == 404 and "/presign/" in response.url.path:
            raise MediaNotFound(
                prefix + "Label Studio has no cloud storage serving it in this task's project, "
                "or the task does not exist" + said
            )
        if status == 404 or (status == 500 and to_ls and shown.startswith("/data/upload/")):
            # Label Studio 1.23 answers 500 for an upload it has no record of.
            raise MediaNotFound(prefix + "the file does not exist" + said)
        failure = "the server failed" if status >= 500 else "an unexpected answer"
        raise MediaDownloadError(prefix + failure + said)

    def _refusal_hint(self, status: int, to_ls: bool, shown: str) -> str:
        if not to_ls and urlsplit(shown).path.startswith(("/data/", "/storage-data/")):
            return f"the token is only sent to Label Studio's own address, {self.hostname}"
        if not to_ls:
            return "the link's signature expired or the storage refused it"
        if self._token is None:
            return "no Label Studio token is set (LABEL_STUDIO_API_KEY)"
        if status == 401:
            return self._token.refused_hint()
        return "the token's user may not access this file"

    def _body(self, response: httpx.Response, shown: str) -> Iterator[bytes]:
        limit = self.max_file_bytes
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            raise MediaTooLarge(_too_large(shown, int(announced), limit))
        received = 0
        try:
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > limit:
                    raise MediaTooLarge(_too_large(shown, received, limit))
                yield chunk
        except httpx.TimeoutException as error:
            raise MediaDownloadError(
                f"Timed out after {self.timeout:g} s downloading {shown} (stalled)."
            ) from error
        except httpx.HTTPError as error:
            raise MediaDownloadError(f"Download of {shown} broke off: {error}") from error


def _too_large(shown: str, size: int, limit: int) -> str:
    return f"{shown} is larger than the {limit:,} byte limit (at least {size:,} bytes)."


def _detail(response: httpx.Response, where: str) -> str:
    """The server's own reason (JSON ``detail``); Label Studio names e.g. disabled legacy tokens."""
    if "json" not in response.headers.get("content-type", ""):
        return ""
    try:
        detail = json.loads(response.read()).get("detail", "")
    except (ValueError, AttributeError, httpx.HTTPError):
        return ""
    return f" ({where} said: {detail})" if detail else ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _query_value(query: str, name: str) -> str | None:
    values = parse_qs(query).get(name)
    return values[0] if values else None


def _suffix(name: str) -> str:
    """The file extension (some decoders go by it), or none if it looks odd."""
    suffix = PurePosixPath(urlsplit(name).path if "://" in name else name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""


def _env(*names: str) -> str | None:
    return next((os.environ[name] for name in names if os.environ.get(name)), None)
