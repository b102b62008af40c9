"""Tiny image writers and the CLI runner shared by the trainer tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from medview.demo import synth


def run_medview(*args, timeout: int = 180) -> subprocess.CompletedProcess:
    """``python -m medview ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "medview", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


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
