"""Tiny image writers shared by the trainer tests, and the CLI demo data set's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medview.demo import synth

#: The data set the ``cli_demo`` fixture writes with ``medview demo-data`` (tests/conftest.py).
DEMO_N, DEMO_SIZE, DEMO_SEED = 8, 128, 7


def png(path: Path, shape=(16, 16), value: int = 100) -> Path:
    """A tiny 8-bit greyscale PNG of one value."""
    return synth.write_png(np.full(shape, value, np.uint8), path)


def mask_png(path: Path, labels) -> Path:
    """An 8-bit PNG holding ``labels`` as they are."""
    return synth.write_png(np.asarray(labels, np.uint8), path)


def dicom(path: Path, patient_id: str, shape=(16, 16), value: int = 1000) -> Path:
    """A tiny DX radiograph (MONOCHROME2, uncompressed) with the given PatientID."""
    img = np.full(shape, value, np.uint16)
    img[0, 0] = 0  # the default window needs some contrast
    return synth.write_radiograph(img, path, photometric="MONOCHROME2",
                                  patient=synth.PatientInfo("TEST^PATIENT", patient_id))


def run_model_from(model: Path, run: Path) -> Path:
    """A training run's ``model/`` folder made from a registered ``model``, as the trainer
    leaves it: weights and manifest, no ONNX graphs (registration makes those)."""
    import json
    import shutil

    out = Path(run) / "model"
    shutil.copytree(model, out)
    manifest = json.loads((out / "model.json").read_text())
    for block in ("onnx", "int8"):
        manifest.pop(block, None)
    (out / "model.json").write_text(json.dumps(manifest))
    for graph in out.glob("model*.onnx"):
        graph.unlink()
    return out
