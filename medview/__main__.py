"""``python -m medview`` and the frozen executable start here."""

import multiprocessing
import sys


def main() -> int:
    # PyInstaller: child processes re-enter this executable; let them run their task.
    multiprocessing.freeze_support()
    from medview.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
