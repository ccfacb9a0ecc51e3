"""The README's commands stay true: every ``python main.py ...`` it shows parses as written,
and the two set-up commands it opens with exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from app.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHOWN = sorted(set(re.findall(r"`(python main\.py [^`]+)`", README)))


def test_the_readme_opens_with_the_two_set_up_commands():
    first_block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["bash scripts/run-app.sh", "bash scripts/test.sh"]
    assert all((ROOT / c.split()[1]).is_file() for c in commands)


@pytest.mark.parametrize("command", SHOWN)
def test_every_command_the_readme_shows_parses(command):
    words = shlex.split(command.replace("[", "").replace("]", ""))[2:]
    words = [w for w in words if w != "..."]
    concrete = [re.sub(r"^(URL|T|ID|MODEL|K=V|DIR)$", _example, w) for w in words]
    build_parser().parse_args(concrete)  # argparse exits (fails the test) on anything unknown


def _example(match: re.Match) -> str:
    return {
        "URL": "http://127.0.0.1:8080",
        "T": "token",
        "ID": "1",
        "MODEL": "sklearn_text_classifier",
        "K=V": "LOGISTIC_REGRESSION_C=1",
        "DIR": "models",
    }[match.group(1)]


def test_the_readme_shows_commands_at_all():
    assert len(SHOWN) >= 8
