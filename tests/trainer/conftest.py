"""Fixtures of the trainer tests: tiny demo data, isolated user folders.

No test touches the real user folder: ``isolated`` points ``MEDVIEW_USER_DIR`` and
``MEDVIEW_MODELS_DIR`` into its own temporary folder. Jobs and how they are run:
``tests/helpers/trainer_jobs.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

# As the trainer does for itself (trainer.cli.quiet_threads): idle OpenMP threads sleep,
# so in-process runs do not stall when the machine is busy. Effective when torch loads after this.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

from tests.helpers.trainer_jobs import run_module  # noqa: E402


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """``medview demo-data OUT --n 12 --size 64 --seed 5``: 24 classification images of 9
    synthetic patients (DICOM and PNG) and 12 segmentation pairs."""
    out = tmp_path_factory.mktemp("demo") / "data"
    proc = run_module("medview", "demo-data", out, "--n", 12, "--size", 64, "--seed", 5, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def isolated(isolated, monkeypatch) -> Path:
    """Empty shipped and user model folders and job queue for this test (the suite's
    ``isolated``, with the shipped folder created), and its own engine cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "cache"))
    (isolated / "shipped").mkdir()
    return isolated
