"""The launch benchmark needs the same real Docker engine and sklearn image as tests/docker."""

from tests.support.docker_engine import docker_client, sklearn_image

__all__ = ["docker_client", "sklearn_image"]
