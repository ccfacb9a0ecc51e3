"""``main.py connect``: test a Label Studio connection, list projects, add or remove a backend."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from app.services.labelstudio import backends, projects
from app.services.labelstudio.connection import Studio, remembered_token
from app.services.labelstudio.errors import StudioError
from backends.sdk.catalog import UnknownModel, get_manifest

HELP = "test a Label Studio connection, list projects, connect or disconnect a model server"


def add_studio_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ls", required=True, metavar="URL", help="Label Studio URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("LABEL_STUDIO_API_KEY"),
        help="legacy token or Personal Access Token (default: $LABEL_STUDIO_API_KEY, then the "
        "token remembered for this URL)",
    )


def studio_from(args: argparse.Namespace) -> Studio:
    token = args.token or remembered_token(args.ls)
    if not token:
        raise StudioError("No token: pass --token or set LABEL_STUDIO_API_KEY.")
    return Studio(args.ls, token)


def add_basic_auth_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--basic-auth-user", default=os.environ.get("BASIC_AUTH_USER") or None)
    parser.add_argument("--basic-auth-pass", default=os.environ.get("BASIC_AUTH_PASS") or None)


def basic_auth_from(args: argparse.Namespace) -> tuple[str, str] | None:
    if bool(args.basic_auth_user) != bool(args.basic_auth_pass):
        raise StudioError("--basic-auth-user and --basic-auth-pass go together.")
    return (args.basic_auth_user, args.basic_auth_pass) if args.basic_auth_user else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_studio_arguments(parser)
    parser.add_argument("--project", type=int, help="project id (without it: list projects)")
    parser.add_argument(
        "--backend", metavar="URL", help="model server URL, as Label Studio reaches it"
    )
    parser.add_argument("--title", help="ML backend title (default: the model name or 'model')")
    parser.add_argument("--model", help="check the project's label config against this model")
    parser.add_argument("--interactive", action="store_true", help="use for interactive labeling")
    parser.add_argument("--disconnect", action="store_true", help="remove --backend from --project")
    add_basic_auth_arguments(parser)


async def _main(args: argparse.Namespace) -> int:
    studio = studio_from(args)
    report = await studio.test()
    print(report.message)
    if not report.ok:
        return 1
    if args.project is None:
        for project in await projects.list_projects(studio):
            print(f"  {project.label}, {project.predictions} predictions")
        return 0
    if not args.backend:
        raise StudioError("--backend URL is needed with --project.")
    if args.disconnect:
        found = [
            b
            for b in await backends.list_backends(studio, args.project)
            if b.url == args.backend.rstrip("/")
        ]
        if not found:
            raise StudioError(f"{args.backend} is not an ML backend of project {args.project}.")
        for backend in found:
            removed = await backends.disconnect(studio, backend.id)
            print(f"Disconnected ML backend {backend.id} and {removed} webhook(s).")
        return 0
    manifest = get_manifest(args.model) if args.model else None
    options = backends.BackendOptions(
        url=args.backend,
        title=args.title or (manifest.name if manifest else "model"),
        basic_auth=basic_auth_from(args),
        interactive=args.interactive,
    )
    backend = await backends.connect(studio, args.project, options, manifest)
    version = backend.model_version
    print(f"Connected ML backend {backend.id} ({backend.state}, model version {version}).")
    for warning in backend.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_main(args))
    except (StudioError, UnknownModel) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
