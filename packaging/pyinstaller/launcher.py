"""Entry point of the PyInstaller bundle: the same `dictate` command as the installed script."""

import multiprocessing
import sys

from dictate.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not rerun the CLI
    sys.exit(main())
