"""``main.py models``: the catalog, for people and (``--json``) for scripts."""

from __future__ import annotations

import argparse
import json

from backends.sdk.catalog import load_catalog

HELP = "list the example models with their capabilities and parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the catalog as JSON")


def run(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    if args.json:
        print(json.dumps([m.summary() for m in catalog.values()], indent=2))
        return 0
    for manifest in catalog.values():
        caps = ", ".join(manifest.capabilities)
        print(f"{manifest.name}  [{caps}; {'/'.join(manifest.data_types)}; GPU {manifest.gpu}]")
        print(f"    {manifest.description}")
        for param in manifest.parameters:
            flag = " (required)" if param.required else f" = {param.default!r}"
            print(f"    --param {param.name}=<{param.type}>{flag}")
    return 0
