"""Tiny training jobs and how the trainer tests run them (in this process or as ``python -m``).

Everything is tiny (64 px images, a few dozen of them, 1-3 epochs of a small network) so
the suite stays fast on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from medview.inference.manifest import parse_manifest
from tests.helpers.paths import ROOT
from trainer.events import Event, parse_line

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


def manifest(task="classification", size=(64, 48), channels=1, **pre):
    """A model manifest for the data-pipeline tests (classes ``a``/``b`` or one ``lesion``)."""
    return parse_manifest({
        "name": "m", "version": "1", "task": task,
        "architecture": {"name": "resnet18" if task == "classification" else "fpn"},
        "classes": ["a", "b"] if task == "classification" else ["lesion"],
        "input": {"size": list(size), "channels": channels},
        "normalisation": {"mean": [0.5] * channels, "std": [0.25] * channels},
        "preprocessing": {"window": "auto", "resize": "letterbox", **pre},
        "card": {"intended_use": "test", "training_data": "test", "date": "2025-01-01"}})

