"""Real DICOM files for tests, listed from disk.

Never call ``pydicom.data.get_testdata_file(s)``: for files it lacks it tries to
download them, and tests must not touch the network.
"""

from __future__ import annotations

from pathlib import Path

import pydicom

PYDICOM_TEST_DIR = Path(pydicom.__file__).parent / "data" / "test_files"


def _data_store_dir() -> Path | None:
    try:
        import data_store  # the pydicom-data package
    except ImportError:
        return None
    return Path(data_store.__file__).parent / "data"


PYDICOM_DATA_DIR = _data_store_dir()


def pydicom_test_files() -> list[Path]:
    """Every file shipped in pydicom's own test_files folder (recursive)."""
    return sorted(p for p in PYDICOM_TEST_DIR.rglob("*") if p.is_file())


def pydicom_data_files() -> list[Path]:
    """Every file of the pydicom-data package (68 real images)."""
    if PYDICOM_DATA_DIR is None:
        return []
    return sorted(p for p in PYDICOM_DATA_DIR.rglob("*") if p.is_file())


def all_real_files() -> list[Path]:
    return pydicom_test_files() + pydicom_data_files()


def find(name: str) -> Path:
    """A real test file by its file name (searched in both collections)."""
    for p in all_real_files():
        if p.name == name:
            return p
    raise FileNotFoundError(name)


def demo_dx(demo: Path) -> Path:
    """The first DICOM radiograph of a demo data set (:mod:`medview.demo.demo_data`)."""
    return sorted((demo / "classification").rglob("*.dcm"))[0]


def demo_png(demo: Path) -> Path:
    """The first PNG of a demo data set."""
    return sorted((demo / "classification").rglob("*.png"))[0]
