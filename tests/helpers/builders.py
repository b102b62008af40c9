"""Tiny random-weight model folders for the inference tests."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

CARD = {"intended_use": "Software testing only; not for diagnosis.",
        "training_data": "None: random weights.", "date": "2025-01-31",
        "metrics": {"auc": 0.5}}

CLASSIFIER = {
    "name": "chest-demo", "version": "1.0.0", "task": "classification",
    "architecture": {"name": "resnet18"},
    "classes": ["normal", "abnormal"],
    "input": {"size": [64, 64], "channels": 1},
    "normalisation": {"mean": [0.5], "std": [0.25]},
    "preprocessing": {"window": "auto", "resize": "letterbox"},
    "output": {"activation": "softmax"},
    "thresholds": {"abnormal": 0.3},
    "card": CARD,
}

SEGMENTER = {
    "name": "prostate-demo", "version": "0.1", "task": "segmentation",
    "architecture": {"name": "fpn", "arguments": {"encoder_name": "resnet18"}},
    "classes": ["prostate"],
    "input": {"size": [64, 64], "channels": 1},
    "preprocessing": {"window": "auto", "resize": "letterbox",
                      "clahe": {"clip_limit": 2.0, "tile_grid": [4, 4]},
                      "diffusion": {"iterations": 3, "kappa": 0.1, "gamma": 0.2}},
    "output": {"activation": "sigmoid"},
    # A random network is unsure everywhere; a low threshold makes its mask non-empty.
    "thresholds": {"prostate": 0.05},
    "card": CARD,
}


def manifest_data(base: dict, **changes) -> dict:
    """A deep copy of ``base`` with top-level ``changes``."""
    data = copy.deepcopy(base)
    data.update(changes)
    return data


def build_module(data: dict, seed: int = 0):
    """The random-weight network a manifest describes (seeded: reproducible)."""
    import torch

    from medview.inference import architectures

    torch.manual_seed(seed)
    arch = data["architecture"]
    return architectures.build(arch["name"], data["input"]["channels"], len(data["classes"]),
                               arch.get("arguments", {}))


def write_model(folder: Path, data: dict, seed: int = 0) -> Path:
    """A model folder (model.json + weights.safetensors) with random weights."""
    from medview.inference.weights import write_safetensors

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    write_safetensors(build_module(data, seed).state_dict(), folder / "weights.safetensors")
    return folder




def subprocess_env() -> dict[str, str]:
    """Environment for a ``medview`` subprocess: this test's folders (set by ``isolated``)."""
    keys = ("MEDVIEW_USER_DIR", "MEDVIEW_MODELS_DIR", "XDG_CACHE_HOME")
    assert all(k in os.environ for k in keys), "use the 'isolated' fixture"
    return dict(os.environ)


def install(isolated: Path, *folders: Path) -> Path:
    """Copy model folders into the test's user model folder (as an import or the trainer)."""
    models = isolated / "user" / "models"
    models.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        shutil.copytree(folder, models / folder.name)
    return models
