"""Free ports and readiness polling for the servers the tests start as real processes."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
import urllib.error
import urllib.request


class ServerExited(RuntimeError):
    """The process died before it ever answered, so waiting longer cannot help."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just handed out; the caller binds it right away to keep the race short."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_http_ok(
    url: str,
    *,
    timeout: float,
    process: subprocess.Popen | None = None,
    basic_auth: tuple[str, str] | None = None,
    interval: float = 0.25,
) -> float:
    """Poll ``url`` until it answers 200 and return the seconds it took.

    Raises ``ServerExited`` as soon as ``process`` has ended and ``TimeoutError`` after ``timeout``.
    """
    headers = {}
    if basic_auth:
        token = base64.b64encode(":".join(basic_auth).encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    started = time.monotonic()
    while True:
        if process is not None and process.poll() is not None:
            raise ServerExited(f"exited with code {process.returncode} before {url} answered")
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(interval)
