"""Settings every test shares: no screen, no network for model hubs, no real keyring."""

from __future__ import annotations

import os

import keyring
import pytest

from tests.support.keyring_memory import MemoryKeyring
from tests.support.servers import start_model_server

# Set before any test module imports Qt or a model hub client: both read these once.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def memory_keyring() -> MemoryKeyring:
    """A fresh in-memory keyring per test: secrets never leak between tests or into the user's."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def serve_model(tmp_path):
    """Factory: ``serve_model(name, params, *, model_dir, basic_auth, extra_args, env)``.

    Starts ``python main.py serve`` as a real process (own process group), waits for /health 200
    (60 s at most) and returns a ``ServedModel`` (``url``, ``model_dir``, ``log()``, ``process``).
    Every server is stopped at teardown, whatever the test did.
    """
    started = []

    def start(name, params=None, **options):
        workdir = tmp_path / f"serve-{len(started)}-{name}"
        served = start_model_server(name, params or {}, workdir=workdir, **options)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
