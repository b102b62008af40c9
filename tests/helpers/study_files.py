"""One study made of real files, for the reading / SR tests.

Copies of pydicom's CT_small and MR_small and pydicom-data's 10-frame emri_small, given
one StudyInstanceUID and patient so that they open as one study (their SOP instance
UIDs are kept).
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from medview.core.io.folder import load_paths
from tests.helpers.datafiles import PYDICOM_DATA_DIR, PYDICOM_TEST_DIR

STUDY_UID = "1.2.826.0.1.3680043.8.498.7701"
FILES = ("CT_small.dcm", "MR_small.dcm", "emri_small.dcm")


def real_file(name: str) -> Path:
    """A file of pydicom's test files, else of pydicom-data (skips when absent)."""
    found = next(iter(PYDICOM_TEST_DIR.rglob(name)), None)
    if found is None and PYDICOM_DATA_DIR is not None:
        found = next(iter(PYDICOM_DATA_DIR.rglob(name)), None)
    if found is None:
        pytest.skip(f"{name} is not installed (pydicom-data)")
    return found


def one_study(folder: Path, names=FILES, **attributes) -> Path:
    """Write copies of ``names`` into ``folder`` as one study; ``attributes`` are set on
    every copy (e.g. ``StudyDate``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        ds = pydicom.dcmread(real_file(name))
        ds.StudyInstanceUID = STUDY_UID
        ds.PatientID, ds.PatientName = "SR-1", "Test^Reading"
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / name)
    return folder


def open_study(folder: Path):
    """The one study under ``folder``."""
    library = load_paths([folder])
    (patient,) = library.patients
    (study,) = patient.studies
    return study


def frame_of(study, name: str, index: int = 0):
    """The open frame ``index`` of file ``name``."""
    for series in study.series:
        for f in series.frames:
            if f.path.name == name and f.index == index:
                return f
    raise AssertionError(f"{name}[{index}] not open")
