"""``main.py studio``: install (first time) and run a local Label Studio set up for local models."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import webbrowser

from app.services.labelstudio.errors import StudioError
from app.services.labelstudio.local_studio import LocalStudio

HELP = "run a local Label Studio (installed on first use) ready for local model servers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-browser", action="store_true", help="do not open it in the browser")
    parser.add_argument("--quiet", action="store_true", help="hide Label Studio's own log lines")


async def _main(args: argparse.Namespace) -> int:
    studio = LocalStudio()
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    on_line = (lambda _line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    try:
        url = await studio.start(on_line)
        user, password, token = studio.credentials()
        print(f"Label Studio is running at {url}")
        print(f"  log in as {user} / {password}; API token: {token}")
        print("  Press Ctrl-C to stop it.")
        if not args.no_browser:
            webbrowser.open(url)
        await stop.wait()
    finally:
        await studio.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_main(args))
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
