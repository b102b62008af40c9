"""The code meets the lint rules of pyproject.toml ([tool.ruff])."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["medview", "trainer", "tests", "bench", "scripts"]


def _ruff() -> list[str]:
    """The ruff beside this interpreter (the test extra installs it), else the one on PATH."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    return [found]


def test_ruff_check_passes():
    proc = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", *CHECKED],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
