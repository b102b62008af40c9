"""``medview`` as a user runs it: a real subprocess, and what a clean failure looks like."""

from __future__ import annotations

import subprocess
import sys


def medview(*args, cwd=None, timeout: float = 120, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    """``python -m medview ARGS`` (arguments made strings), its output captured as text."""
    return subprocess.run([sys.executable, "-m", "medview", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def medview_with_models(*args) -> subprocess.CompletedProcess:
    """:func:`medview` in this test's model and user folders (the ``isolated`` fixture)."""
    from tests.helpers.builders import subprocess_env

    return medview(*args, timeout=300, env=subprocess_env())


def assert_clean_failure(proc: subprocess.CompletedProcess, name: str) -> None:
    """Exit status 2, no traceback, one line on stderr naming ``name``."""
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], proc.stderr
