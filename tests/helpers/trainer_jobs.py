"""Fixtures of the training-loop tests: tiny demo data, isolated user folders, job helpers.

Everything is tiny (64 px images, a few dozen of them, 1-3 epochs of a small network) so
the suite stays fast on 2 CPU cores. No test touches the real user folder: the
``isolated`` fixture points ``MEDVIEW_USER_DIR`` and ``MEDVIEW_MODELS_DIR`` into its own
temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# As the trainer does for itself (trainer.cli.quiet_threads): idle OpenMP threads sleep,
# so in-process runs do not stall when the machine is busy. Effective when torch loads after this.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

from trainer.events import Event, parse_line  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

#: A small, fast classifier job (fields a test does not override).
TINY_CLASSIFIER = {
    "name": "tiny-classifier", "version": "1.0.0",
    "model": {"architecture": "mobilenet_v3_small"},
    "input": {"size": 64, "channels": 1},
    "epochs": 1, "freeze_epochs": 0, "batch_size": 8, "workers": 0, "seed": 0,
    "split": {"val": 0.2, "test": 0.2, "seed": 0},
}
TINY_SEGMENTER = {
    "name": "tiny-segmenter", "version": "1.0.0",
    "model": {"architecture": "fpn", "arguments": {"encoder_name": "mobilenet_v2",
                                                   "decoder_pyramid_channels": 32,
                                                   "decoder_segmentation_channels": 32}},
    "input": {"size": 64, "channels": 1},
    "epochs": 1, "freeze_epochs": 0, "batch_size": 4, "workers": 0, "seed": 0,
    "split": {"val": 0.2, "test": 0.2, "seed": 0},
}


def medview_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a subprocess: this test's folders, unbuffered output."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def run_module(*args, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m ARGS`` from the repository root (e.g. ``run_module("trainer", job)``)."""
    return subprocess.run([sys.executable, "-m", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env or medview_env())


def events_of(text: str) -> list[Event]:
    """Every line of ``text`` parsed as an event (a line that does not parse fails the test)."""
    return [parse_line(line) for line in text.splitlines() if line.strip()]


def write_job(folder: Path, base: dict, **fields) -> Path:
    """``folder/job.json`` from ``base`` updated with ``fields``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = json.loads(json.dumps(base))
    data.update(fields)
    path = folder / "job.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


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


def run_in_process(job_path: Path, **kwargs) -> tuple[int, list[Event], Path]:
    """Run a job in this process (fast: torch is loaded once); (exit status, events, run dir)."""
    import io

    from trainer.config import load_job, run_dir_for
    from trainer.loop import run_job

    job = load_job(job_path)
    run_dir = run_dir_for(job_path, job)
    out = io.StringIO()
    code = run_job(job, run_dir, stream=out, **kwargs)
    return code, events_of(out.getvalue()), run_dir
