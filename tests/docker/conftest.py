"""Every test here runs against a real Docker engine (tests/support/docker_engine.py).

No engine is a failure, not a skip: a CI run that silently skipped every container test
would report green on a launcher it never ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.docker_engine import docker_client, our_containers, sklearn_image

__all__ = ["docker_client", "our_containers", "sklearn_image"]

DOCKER_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(DOCKER_DIR):
            item.add_marker(pytest.mark.docker)
