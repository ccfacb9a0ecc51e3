"""ML Launcher: no arguments opens the panel; subcommands run the same services headless."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
