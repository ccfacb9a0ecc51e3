"""MediaResolver against real HTTP servers on 127.0.0.1.

One server plays Label Studio (checks the Authorization header, serves uploads and local
files, exchanges Personal Access Tokens, redirects presign requests); a second one, on another
port, plays the cloud bucket the presigned URLs point to. Everything travels over real sockets,
so the headers each server saw are what a real Label Studio and a real bucket would see.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import pytest

from backends.sdk.media import (
    MediaAuthError,
    MediaConfigError,
    MediaDownloadError,
    MediaNotFound,
    MediaResolver,
    MediaTooLarge,
    UnsafeLocalPath,
    UnsupportedMedia,
)
from backends.sdk.media_cache import MediaCache

LEGACY_TOKEN = "legacy-token-0123456789"
CAT = (b"\x89PNG cat " * 12)[:100]
DOG = (b"\x89PNG dog " * 12)[:100]
BIRD = b"\xff\xd8 JPEG bird " * 8
NO_LENGTH = "X-Test-No-Length"  # the handler then streams the body without Content-Length

Response = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body)
        server: FakeServer = self.server.owner  # type: ignore[attr-defined]
        server.requests.append(seen)
        status, headers, payload = server.app(seen)
        self.send_response(status)
        if not headers.pop(NO_LENGTH, None):
            self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


class FakeServer:
    """A real HTTP server in a thread, answering with ``app(request)`` and logging requests."""

    def __init__(self, app: Callable[[Seen], Response]):
        self.app = app
        self.requests: list[Seen] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.owner = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def make_jwt(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


def _json(status: int, body: dict[str, Any]) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class Bucket:
    """A cloud bucket that only serves signed URLs (``?sig=ok``)."""

    def __init__(self) -> None:
        self.files = {"/photos/bird.jpg": BIRD}

    def __call__(self, request: Seen) -> Response:
        if request.query.get("sig") != ["ok"]:
            return 403, {}, b"<Error>SignatureDoesNotMatch</Error>"
        if request.path not in self.files:
            return 404, {}, b"<Error>NoSuchKey</Error>"
        return 200, {}, self.files[request.path]


class FakeLabelStudio:
    """Label Studio's media and token endpoints, with its 1.23 answers."""

    def __init__(self, bucket_url: str):
        self.pat = make_jwt({"token_type": "refresh", "jti": "pat-1"})
        self.access_lifetime_s = 300
        self.live_access: set[str] = set()
        self.legacy_enabled = True
        self.delay_s = 0.0
        self.files: dict[str, bytes] = {
            "/data/upload/1/cat.png": CAT,
            "/data/upload/1/dog.png": DOG,
        }
        self.local_files = {"images/dog.png": DOG}
        self.storage = {"s3://bucket/photos/bird.jpg": f"{bucket_url}/photos/bird.jpg?sig=ok"}
        self._minted = 0

    def __call__(self, request: Seen) -> Response:
        if request.path == "/api/token/refresh/":
            return self._refresh(json.loads(request.body or b"{}"))
        refusal = self._check_auth(request.headers.get("Authorization", ""))
        if refusal:
            return _json(401, {"detail": refusal})
        time.sleep(self.delay_s)
        if request.path.startswith("/tasks/") and request.path.endswith("/presign/"):
            uri = base64.urlsafe_b64decode(request.query["fileuri"][0]).decode()
            if uri not in self.storage:
                return 404, {}, b""
            return 303, {"Location": self.storage[uri]}, b""
        if request.path == "/data/local-files/":
            content = self.local_files.get(request.query["d"][0])
            return (200, {}, content) if content else _json(404, {"detail": "Not found."})
        if request.path in self.files:
            return 200, {}, self.files[request.path]
        return _json(404, {"detail": "Not found."})

    def _check_auth(self, header: str) -> str | None:
        scheme, _, credential = header.partition(" ")
        if scheme == "Token" and credential == LEGACY_TOKEN:
            if self.legacy_enabled:
                return None
            return (
                "Authentication token no longer valid: legacy token authentication has been "
                "disabled for this organization"
            )
        if scheme == "Bearer" and credential in self.live_access:
            return None
        return "Invalid token."

    def _refresh(self, body: dict[str, Any]) -> Response:
        if body.get("refresh") != self.pat:
            return _json(401, {"detail": "Token is invalid or expired", "code": "token_not_valid"})
        self._minted += 1
        expires = int(time.time()) + self.access_lifetime_s
        access = make_jwt({"token_type": "access", "exp": expires, "jti": f"a{self._minted}"})
        self.live_access.add(access)
        return _json(200, {"access": access})


@pytest.fixture(autouse=True)
def _no_label_studio_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "LABEL_STUDIO_URL",
        "LABEL_STUDIO_HOST",
        "LABEL_STUDIO_API_KEY",
        "LABEL_STUDIO_ACCESS_TOKEN",
        "LOCAL_FILES_DOCUMENT_ROOT",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bucket() -> Iterator[FakeServer]:
    server = FakeServer(Bucket())
    yield server
    server.stop()


@pytest.fixture
def ls(bucket: FakeServer) -> Iterator[FakeServer]:
    server = FakeServer(FakeLabelStudio(bucket.url))
    yield server
    server.stop()


@pytest.fixture
def make_resolver(ls: FakeServer, tmp_path: Path) -> Iterator[Callable[..., MediaResolver]]:
    made: list[MediaResolver] = []

    def make(**overrides: Any) -> MediaResolver:
        options: dict[str, Any] = {
            "hostname": ls.url,
            "token": LEGACY_TOKEN,
            "cache_dir": tmp_path / "cache",
        }
        options.update(overrides)
        made.append(MediaResolver(**options))
        return made[-1]

    yield make
    for resolver in made:
        resolver.close()


def auth_headers(requests: list[Seen]) -> list[str | None]:
    return [r.headers.get("Authorization") for r in requests]


# --- Label Studio uploads and the legacy token -------------------------------------------


def test_upload_is_downloaded_with_the_legacy_token(make_resolver, ls):
    path = make_resolver().resolve("/data/upload/1/cat.png", task_id=1)

    assert path.read_bytes() == CAT
    assert path.suffix == ".png"
    assert auth_headers(ls.requests) == [f"Token {LEGACY_TOKEN}"]


@pytest.mark.parametrize(
    "value",
    ["upload/1/cat.png", "/upload/1/cat.png", "/storage-data/uploaded/?filepath=upload/1/cat.png"],
)
def test_other_spellings_of_an_upload_reach_data_upload(make_resolver, ls, value):
    assert make_resolver().resolve(value).read_bytes() == CAT
    assert [r.path for r in ls.requests] == ["/data/upload/1/cat.png"]


def test_refused_legacy_token_says_to_use_a_personal_access_token(make_resolver, ls):
    ls.app.legacy_enabled = False

    with pytest.raises(MediaAuthError) as caught:
        make_resolver().resolve("/data/upload/1/cat.png")

    message = str(caught.value)
    assert message.startswith("401 from Label Studio while downloading /data/upload/1/cat.png: ")
    assert "legacy tokens are disabled — use a Personal Access Token" in message
    assert "legacy token authentication has been disabled for this organization" in message


def test_missing_upload_is_reported_as_not_found(make_resolver):
    with pytest.raises(MediaNotFound, match=r"404 from Label Studio .*/data/upload/1/gone\.png"):
        make_resolver().resolve("/data/upload/1/gone.png")


def test_label_studio_paths_need_its_url_and_token(make_resolver):
    with pytest.raises(MediaConfigError, match="set LABEL_STUDIO_URL"):
        make_resolver(hostname=None).resolve("/data/upload/1/cat.png")
    with pytest.raises(MediaConfigError, match="no Label Studio token"):
        make_resolver(token=None).resolve("/data/upload/1/cat.png")


def test_url_and_token_come_from_the_environment(make_resolver, ls, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", ls.url + "/")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", LEGACY_TOKEN)

    path = make_resolver(hostname=None, token=None).resolve("/data/upload/1/cat.png")

    assert path.read_bytes() == CAT


def test_label_studio_url_without_scheme_is_refused_up_front(tmp_path):
    with pytest.raises(MediaConfigError, match="must start with http:// or https://"):
        MediaResolver("localhost:8080", LEGACY_TOKEN, tmp_path)


# --- Personal Access Tokens -----------------------------------------------------------------


def test_personal_access_token_is_exchanged_once_and_sent_as_bearer(make_resolver, ls):
    resolver = make_resolver(token=ls.app.pat)

    resolver.resolve("/data/upload/1/cat.png")
    resolver.resolve("/data/upload/1/dog.png")

    refreshes = ls.hits("/api/token/refresh/")
    assert [json.loads(r.body) for r in refreshes] == [{"refresh": ls.app.pat}]
    sent = auth_headers(ls.hits("/data/upload/1/cat.png") + ls.hits("/data/upload/1/dog.png"))
    (access,) = ls.app.live_access
    assert sent == [f"Bearer {access}"] * 2
    assert not any(ls.app.pat in (h or "") for h in auth_headers(ls.requests))


def test_access_token_is_renewed_when_label_studio_rejects_it(make_resolver, ls):
    resolver = make_resolver(token=ls.app.pat)
    resolver.resolve("/data/upload/1/cat.png")
    (old,) = ls.app.live_access
    ls.app.live_access.clear()  # revoked early, e.g. Label Studio restarted with a new key

    assert resolver.resolve("/data/upload/1/dog.png").read_bytes() == DOG
    (new,) = ls.app.live_access
    assert new != old
    assert len(ls.hits("/api/token/refresh/")) == 2
    assert auth_headers(ls.hits("/data/upload/1/dog.png")) == [f"Bearer {old}", f"Bearer {new}"]


def test_access_token_is_renewed_before_it_expires(make_resolver, ls):
    ls.app.access_lifetime_s = 5  # inside the safety margin: every use needs a new one
    resolver = make_resolver(token=ls.app.pat)

    resolver.resolve("/data/upload/1/cat.png")
    resolver.resolve("/data/upload/1/dog.png")

    assert len(ls.hits("/api/token/refresh/")) == 2
    assert len(ls.hits("/data/upload/1/dog.png")) == 1  # no 401 round trip


def test_revoked_personal_access_token_is_explained(make_resolver, ls):
    revoked = make_jwt({"token_type": "refresh", "jti": "revoked"})

    with pytest.raises(MediaAuthError, match="it was revoked, or it belongs to another"):
        make_resolver(token=revoked).resolve("/data/upload/1/cat.png")
    assert ls.hits("/data/upload/1/cat.png") == []


# --- the token never leaves Label Studio's origin -------------------------------------------


def test_cloud_uri_goes_through_presign_and_the_bucket_never_sees_the_token(
    make_resolver, ls, bucket
):
    resolver = make_resolver()

    path = resolver.resolve("s3://bucket/photos/bird.jpg", task_id=7)

    assert path.read_bytes() == BIRD
    assert path.suffix == ".jpg"
    (presign,) = ls.requests
    assert presign.path == "/tasks/7/presign/"
    fileuri = presign.query["fileuri"][0]
    assert base64.urlsafe_b64decode(fileuri) == b"s3://bucket/photos/bird.jpg"
    assert presign.headers["Authorization"] == f"Token {LEGACY_TOKEN}"
    assert [r.path for r in bucket.requests] == ["/photos/bird.jpg"]
    assert auth_headers(bucket.requests) == [None]


def test_personal_access_token_does_not_follow_the_presign_redirect(make_resolver, ls, bucket):
    path = make_resolver(token=ls.app.pat).resolve("s3://bucket/photos/bird.jpg", task_id=7)

    assert path.read_bytes() == BIRD
    (access,) = ls.app.live_access
    assert auth_headers(ls.hits("/tasks/7/presign/")) == [f"Bearer {access}"]
    assert auth_headers(bucket.requests) == [None]


def test_direct_link_to_another_port_gets_no_token(make_resolver, bucket):
    path = make_resolver().resolve(f"{bucket.url}/photos/bird.jpg?sig=ok")

    assert path.read_bytes() == BIRD
    assert auth_headers(bucket.requests) == [None]


def test_link_to_label_studio_under_another_host_name_explains_the_401(make_resolver, ls):
    other_name = ls.url.replace("127.0.0.1", "localhost")

    with pytest.raises(MediaAuthError) as caught:
        make_resolver().resolve(f"{other_name}/data/upload/1/cat.png")

    assert "the token is only sent to Label Studio's own address" in str(caught.value)
    assert auth_headers(ls.requests) == [None]


def test_cloud_uri_without_task_id_is_refused(make_resolver, ls):
    with pytest.raises(MediaConfigError, match="needs the task id"):
        make_resolver().resolve("s3://bucket/photos/bird.jpg")
    assert ls.requests == []


def test_cloud_uri_unknown_to_label_studio(make_resolver):
    with pytest.raises(MediaNotFound, match="no cloud storage serving it"):
        make_resolver().resolve("azure-blob://container/nope.png", task_id=7)


def test_expired_signed_url_is_explained(make_resolver, ls, bucket):
    ls.app.storage["s3://bucket/photos/bird.jpg"] = f"{bucket.url}/photos/bird.jpg?sig=old"

    with pytest.raises(MediaAuthError, match="signature expired or the storage refused it"):
        make_resolver().resolve("s3://bucket/photos/bird.jpg", task_id=7)


# --- local files ---------------------------------------------------------------------------


@pytest.fixture
def document_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "images").mkdir(parents=True)
    (root / "images" / "cat.png").write_bytes(CAT)
    (tmp_path / "secret.txt").write_text("outside the root")
    (root / "images" / "escape.png").symlink_to(tmp_path / "secret.txt")
    return root


def test_local_file_under_the_root_is_read_in_place(make_resolver, ls, document_root):
    path = make_resolver(local_files_root=document_root).resolve(
        "/data/local-files/?d=images/cat.png"
    )

    assert path == document_root / "images" / "cat.png"
    assert ls.requests == []


def test_local_files_root_comes_from_the_environment(make_resolver, document_root, monkeypatch):
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(document_root))

    path = make_resolver().resolve("/data/local-files/?d=images/cat.png")

    assert path == document_root / "images" / "cat.png"


def test_local_file_missing_from_the_root_is_fetched_from_label_studio(
    make_resolver, ls, document_root
):
    path = make_resolver(local_files_root=document_root).resolve(
        "/data/local-files/?d=images/dog.png"
    )

    assert path.read_bytes() == DOG
    (request,) = ls.requests
    assert request.query == {"d": ["images/dog.png"]}
    assert request.headers["Authorization"] == f"Token {LEGACY_TOKEN}"


def test_local_file_without_a_root_is_fetched_from_label_studio(make_resolver):
    path = make_resolver().resolve("/data/local-files/?d=images/dog.png")

    assert path.read_bytes() == DOG


@pytest.mark.parametrize(
    ("d", "reason"),
    [
        ("../secret.txt", "climbs out of the local-files root"),
        ("images/../../secret.txt", "climbs out of the local-files root"),
        ("/etc/passwd", "is absolute"),
        ("images/escape.png", "is a symlink leading out of the root"),
    ],
)
def test_local_path_escaping_the_root_is_refused(make_resolver, ls, document_root, d, reason):
    with pytest.raises(UnsafeLocalPath, match=reason):
        make_resolver(local_files_root=document_root).resolve(f"/data/local-files/?d={d}")
    assert ls.requests == []


# --- the cache -----------------------------------------------------------------------------


def test_resolvers_sharing_a_cache_dir_share_files_and_budget(make_resolver, ls):
    ls.app.files["/data/upload/1/cow.png"] = b"c" * 100
    first = make_resolver(max_cache_bytes=250)
    second = make_resolver(max_cache_bytes=250)  # e.g. another project, same model_dir

    cat = first.resolve("/data/upload/1/cat.png")
    assert second.resolve("/data/upload/1/cat.png") == cat
    second.resolve("/data/upload/1/dog.png")
    first.resolve("/data/upload/1/cow.png")

    assert len(ls.hits("/data/upload/1/cat.png")) == 1
    assert sum(f.stat().st_size for f in cat.parent.iterdir()) == 200


def test_a_new_process_finds_cached_files_and_their_order(tmp_path):
    def fill(content: bytes) -> Callable[[BinaryIO], None]:
        return lambda out: out.write(content)

    before = MediaCache(tmp_path, max_bytes=1000)
    old = before.get_or_fill("http://x/old.png", ".png", fill(CAT))
    recent = before.get_or_fill("http://x/recent.png", ".png", fill(DOG))
    before.get_or_fill("http://x/old.png", ".png", fill(b"never written"))  # a hit: now recent
    (tmp_path / "tmpdead.partial").write_bytes(b"half a download")

    after = MediaCache(tmp_path, max_bytes=150)  # restarted with a smaller budget

    assert old.read_bytes() == CAT
    assert not recent.exists()
    assert after.total_bytes == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.name]
    assert after.get_or_fill("http://x/old.png", ".png", fill(b"never written")) == old


def test_cache_evicts_least_recently_used_files_beyond_its_size(make_resolver, ls):
    ls.app.files["/data/upload/1/cow.png"] = b"c" * 100
    resolver = make_resolver(max_cache_bytes=250)  # room for two 100-byte files
    cat = resolver.resolve("/data/upload/1/cat.png")
    dog = resolver.resolve("/data/upload/1/dog.png")
    resolver.resolve("/data/upload/1/cat.png")  # cat is now the most recently used

    cow = resolver.resolve("/data/upload/1/cow.png")

    assert cat.exists() and cow.exists()
    assert not dog.exists()
    assert sum(f.stat().st_size for f in cat.parent.iterdir()) == 200
    resolver.resolve("/data/upload/1/dog.png")
    assert len(ls.hits("/data/upload/1/dog.png")) == 2


def test_concurrent_requests_for_one_file_download_it_once(make_resolver, ls):
    ls.app.delay_s = 0.3
    resolver = make_resolver()
    paths: list[Path] = []

    workers = [
        threading.Thread(target=lambda: paths.append(resolver.resolve("/data/upload/1/cat.png")))
        for _ in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(paths) == 6 and len(set(paths)) == 1
    assert len(ls.hits("/data/upload/1/cat.png")) == 1


# --- limits and failures -------------------------------------------------------------------


@pytest.mark.parametrize("announced", [True, False])
def test_file_over_the_size_limit_is_refused_and_not_cached(
    make_resolver, bucket, tmp_path, announced
):
    headers = {} if announced else {NO_LENGTH: "1"}
    bucket.app = lambda request: (200, dict(headers), b"x" * 5000)

    with pytest.raises(MediaTooLarge, match="larger than the 1,000 byte limit"):
        make_resolver(max_file_bytes=1000).resolve(f"{bucket.url}/huge.bin")
    assert list((tmp_path / "cache").iterdir()) == []


def test_stalled_server_times_out(make_resolver, bucket):
    def stall(request: Seen) -> Response:
        time.sleep(1.5)
        return 200, {}, b"late"

    bucket.app = stall

    with pytest.raises(MediaDownloadError, match=r"Timed out after 0\.3 s"):
        make_resolver(timeout=0.3).resolve(f"{bucket.url}/slow.png")


def test_server_error_is_reported_with_its_status(make_resolver, bucket):
    bucket.app = lambda request: (500, {}, b"boom")

    with pytest.raises(
        MediaDownloadError, match=r"500 from http://127\.0\.0\.1:\d+ .*server failed"
    ):
        make_resolver().resolve(f"{bucket.url}/broken.png")


def test_nginx_only_answer_is_not_cached_as_an_empty_file(make_resolver, ls, tmp_path):
    """Label Studio in nginx mode answers uploads with an empty body and X-Accel-Redirect."""
    ls.app = lambda request: (200, {"X-Accel-Redirect": "/file_download/s3/b/a.png"}, b"")

    with pytest.raises(MediaDownloadError, match="nginx redirect but no nginx serves it"):
        make_resolver().resolve("/storage-data/uploaded/?filepath=avatars/a.png")
    assert list((tmp_path / "cache").iterdir()) == []


def test_unreachable_host_is_reported(make_resolver, bucket):
    url = f"{bucket.url}/photo.png"
    bucket.stop()
    bucket.stop = lambda: None

    with pytest.raises(MediaDownloadError, match="is unreachable"):
        make_resolver().resolve(url)


def test_endless_redirects_are_cut_off(make_resolver, bucket):
    bucket.app = lambda request: (302, {"Location": "/again"}, b"")

    with pytest.raises(MediaDownloadError, match="Too many redirects"):
        make_resolver().resolve(f"{bucket.url}/start")


@pytest.mark.parametrize("value", ["C:\\images\\cat.png", "just some text", "/etc/passwd", 42])
def test_values_that_are_no_media_link_are_refused(make_resolver, value):
    with pytest.raises(UnsupportedMedia, match="Can't load"):
        make_resolver().resolve(value)
