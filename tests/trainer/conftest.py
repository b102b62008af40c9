"""Fixtures of the trainer tests: one demo data set, written once by the real CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.trainer_files import run_medview

DEMO_N, DEMO_SIZE, DEMO_SEED = 8, 128, 7


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``medview demo-data OUT --n 8 --size 128 --seed 7`` as a subprocess: (process, OUT)."""
    out = tmp_path_factory.mktemp("demo") / "data"
    proc = run_medview("demo-data", out, "--n", DEMO_N, "--size", DEMO_SIZE, "--seed", DEMO_SEED)
    return proc, out


@pytest.fixture(scope="session")
def demo(demo_run) -> Path:
    """Root of the demo data set (the CLI run must have succeeded)."""
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    return out
