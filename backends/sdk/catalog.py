"""Find the example models by their manifests, without importing any model code."""

from __future__ import annotations

import importlib
from pathlib import Path

from backends.sdk.manifest import Manifest

BACKENDS_DIR = Path(__file__).resolve().parent.parent


class UnknownModel(LookupError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"unknown model {name!r}; available: {', '.join(known) or 'none'}")


def load_catalog(root: Path = BACKENDS_DIR) -> dict[str, Manifest]:
    manifests = {}
    for path in sorted(root.glob("*/manifest.toml")):
        manifest = Manifest.load(path)
        manifests[manifest.name] = manifest
    return manifests


def get_manifest(name: str, root: Path = BACKENDS_DIR) -> Manifest:
    catalog = load_catalog(root)
    if name not in catalog:
        raise UnknownModel(name, sorted(catalog))
    return catalog[name]


def import_model_class(manifest: Manifest) -> type:
    module_name, _, class_name = manifest.model_class.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)
