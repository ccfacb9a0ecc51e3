"""``main.py serve MODEL``: run one model server; parameters are checked before anything loads."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from backends.sdk.catalog import UnknownModel, get_manifest
from backends.sdk.manifest import ParameterError

HELP = "run a model server that speaks the Label Studio ML backend protocol"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name, see `main.py models`")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="model parameter"
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="where versions are kept")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--basic-auth-user", default=os.environ.get("BASIC_AUTH_USER") or None)
    parser.add_argument("--basic-auth-pass", default=os.environ.get("BASIC_AUTH_PASS") or None)


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParameterError(pair, "expected KEY=VALUE")
        params[key.strip()] = value
    return params


def params_from_env(manifest, given: dict[str, str]) -> dict[str, str]:
    """Parameters not given on the command line come from the environment (Docker, upstream)."""
    merged = {p.name: os.environ[p.name] for p in manifest.parameters if p.name in os.environ}
    merged.update(given)
    return merged


def run(args: argparse.Namespace) -> int:
    try:
        manifest = get_manifest(args.model)
        params = manifest.validate_params(params_from_env(manifest, parse_params(args.param)))
    except (UnknownModel, ParameterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bool(args.basic_auth_user) != bool(args.basic_auth_pass):
        print("error: --basic-auth-user and --basic-auth-pass go together", file=sys.stderr)
        return 2
    from app.services.process_guard import exit_with_parent
    from backends.sdk.server import serve

    exit_with_parent()  # launched by the panel: die with it, even if it is killed
    model_dir = args.model_dir or Path(
        os.environ.get("MODEL_DIR") or Path.cwd() / "models" / manifest.name
    )
    return serve(
        manifest,
        params,
        host=args.host,
        port=args.port,
        model_dir=model_dir,
        log_level=args.log_level,
        basic_auth=(args.basic_auth_user, args.basic_auth_pass) if args.basic_auth_user else None,
    )
