"""Model servers the shared ``tests/support/servers.py`` cannot start, and an annotation helper.

Two cases need this: a test-only model (tests/support/failing_model), whose manifest is not in
the catalog, and a basic-auth server, whose ``/health`` answers 401 to an anonymous readiness
probe. Both run the very same SDK server (``backends.sdk.server.serve``) in a child process.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from backends.sdk.catalog import BACKENDS_DIR
from tests.support.net import free_port
from tests.support.processes import log_tail, start_in_own_group, stop_group

_SERVE = """
import json, sys
from pathlib import Path
from backends.sdk.manifest import Manifest
from backends.sdk.server import serve
manifest = Manifest.load(Path(sys.argv[1]))
auth = json.loads(sys.argv[4])
sys.exit(serve(manifest, manifest.validate_params(json.loads(sys.argv[5])), host="127.0.0.1",
    port=int(sys.argv[2]), model_dir=Path(sys.argv[3]), log_level="warning",
    basic_auth=tuple(auth) if auth else None))
"""


@dataclass(frozen=True)
class ModelServer:
    url: str
    auth: tuple[str, str] | None


@contextlib.contextmanager
def serve_manifest(
    model: str | Path,
    workdir: Path,
    *,
    params: dict[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
) -> Iterator[ModelServer]:
    """``model``: a catalog name or the path of a manifest.toml."""
    path = Path(model)
    manifest = path if path.suffix == ".toml" else BACKENDS_DIR / str(model) / "manifest.toml"
    port = free_port()
    command = [sys.executable, "-c", _SERVE, str(manifest), str(port), str(workdir / "models")]
    command += [json.dumps(basic_auth), json.dumps(params or {})]
    log_path = workdir / "server.log"
    process = start_in_own_group(command, log_path=log_path, cwd=BACKENDS_DIR.parent)
    server = ModelServer(f"http://127.0.0.1:{port}", basic_auth)
    try:
        deadline = time.monotonic() + 60
        while not _up(server):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"model server did not get ready:\n{log_tail(log_path)}")
            time.sleep(0.2)
        yield server
    finally:
        stop_group(process)


def _up(server: ModelServer) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{server.url}/health", auth=server.auth, timeout=2).status_code == 200
    return False


def annotate(client, task_ids: list[int], label: Callable[[int], str]) -> None:
    """Annotate tasks as a labeler would (choice ``label(index)``), through the SDK."""
    for index, task_id in enumerate(task_ids):
        value = {"choices": [label(index)]}
        region = {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": value}
        client.annotations.create(task_id, result=[region])
