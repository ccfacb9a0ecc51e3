"""How launch choices become container and build settings (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.docker_containers import container_url
from app.services.docker_images import TORCH_CPU_INDEX, BuildOptions, build_args, image_tag
from backends.sdk.catalog import get_manifest


@pytest.mark.parametrize(
    ("given", "inside"),
    [
        ("http://localhost:8080", "http://host.docker.internal:8080"),
        ("http://127.0.0.1:8080/label-studio", "http://host.docker.internal:8080/label-studio"),
        ("https://user:pw@localhost/", "https://user:pw@host.docker.internal/"),
        ("http://[::1]:8080", "http://host.docker.internal:8080"),
        ("http://labels.example.org:8080", "http://labels.example.org:8080"),
        ("", ""),
    ],
)
def test_label_studio_on_this_machine_is_reached_through_the_host_gateway(given, inside):
    assert container_url(given) == inside


def test_offline_build_installs_only_from_the_wheelhouse(tmp_path: Path):
    manifest = get_manifest("sklearn_text_classifier")
    args = build_args(manifest, BuildOptions(base_image="local/py:1", wheelhouse=tmp_path))
    assert args == {
        "EXTRA": "sklearn",
        "MODEL": "sklearn_text_classifier",
        "BASE_IMAGE": "local/py:1",
        "WHEELHOUSE": "wheelhouse",
        "PIP_NO_INDEX": "1",
    }
    assert image_tag(manifest) == "ml-launcher/sklearn_text_classifier:latest"


def test_cpu_torch_image_takes_cpu_wheels_and_gpu_image_the_cuda_base():
    manifest = get_manifest("bert_classifier")
    assert manifest.extra == "torch"
    assert build_args(manifest, BuildOptions())["PIP_EXTRA_INDEX_URL"] == TORCH_CPU_INDEX
    gpu = build_args(manifest, BuildOptions(cuda=True))
    assert "PIP_EXTRA_INDEX_URL" not in gpu and gpu["BASE_IMAGE"].startswith(
        "ml-launcher/cuda-base"
    )
    assert image_tag(manifest, cuda=True).endswith(":cuda")
