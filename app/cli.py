"""Command-line entry: no arguments opens the panel, a subcommand runs headless.

Each subcommand lives in ``app/commands/<name>.py`` with ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``, and is imported only when chosen, so ``serve`` never loads Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("serve", "models", "launch", "connect", "preannotate", "studio", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="ML Launcher: run Label Studio ML backends from a desktop panel or headless.",
    )
    parser.add_argument(
        "--screenshot",
        metavar="FILE.png",
        help="render the main window offscreen to a PNG and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"app.commands.{name}")
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        from app.ui.application import run_gui

        return run_gui(screenshot=args.screenshot)
    return importlib.import_module(f"app.commands.{args.command}").run(args)
