"""Print the pip requirements of the model server for one extra, read from pyproject.toml.

The image installs these before the code is copied, so a code change rebuilds only the last
layers; it runs inside the build on the base image's own Python (3.11 has tomllib).
"""

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extra: str) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    if extra and extra not in extras:
        known = ", ".join(sorted(extras))
        raise SystemExit(f"unknown extra {extra!r} in {pyproject} (known: {known})")
    return [*project["dependencies"], *(extras[extra] if extra else [])]


if __name__ == "__main__":
    print("\n".join(requirements(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")))
