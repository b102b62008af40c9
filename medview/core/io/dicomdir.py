"""DICOMDIR (PS3.10 media directory): the files it references."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
from pydicom.fileset import FileSet

from medview.core.errors import ReadError, one_line


def referenced_files(path: str | Path) -> list[Path]:
    """Files referenced by a DICOMDIR's image records, in directory order.

    References to files missing on the medium are dropped here; loading them
    would only repeat "file not found" for each.

    Raises
    ------
    ReadError
        If ``path`` is not a readable DICOMDIR.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fs = FileSet(pydicom.dcmread(path))
    except FileNotFoundError:
        raise ReadError(path, "file not found") from None
    except Exception as exc:
        raise ReadError(path, f"not a readable DICOMDIR ({one_line(exc, 120)})") from None
    files = []
    for instance in fs:
        target = Path(instance.path)
        if target.is_file():
            files.append(target)
    return files
