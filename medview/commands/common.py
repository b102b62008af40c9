"""What every sub-command shares with the ``medview`` entry point: exit statuses,
the one-line user-facing error, JSON output.

It lives here, below :mod:`medview.cli`, so that the commands never import the module
that dispatches to them (``medview.cli`` imports each command on use).
"""

from __future__ import annotations

import json
import sys

from medview.core.errors import MedviewError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class CliError(MedviewError):
    """A user-facing failure: printed as one line, exit status 2."""


def print_json(obj) -> None:
    """``obj`` as indented UTF-8 JSON on stdout."""
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
