"""Small DICOM series written by the tests, with the geometry they choose."""

from __future__ import annotations

from pathlib import Path

import numpy as np

AXIAL = ((1, 0, 0), (0, 1, 0))       # rows run to the patient's left, columns to posterior
CORONAL = ((1, 0, 0), (0, 0, -1))    # rows to the left, columns to the feet
SAGITTAL = ((0, 1, 0), (0, 0, -1))   # rows to posterior, columns to the feet


def write_series(folder: Path, n: int = 5, orientation=AXIAL, origin=(0.0, 0.0, 0.0),
                 step_mm: float = 2.0, size: int = 32, spacing: float = 0.5,
                 modality: str = "CT", frame_of_reference: str | None = "1.2.3.4.5",
                 study_uid: str | None = None, extra: dict | None = None) -> list[Path]:
    """``n`` slices ``step_mm`` apart along the normal of ``orientation``; a ramp image
    (value = row + column) with Rescale slope 1, intercept -1024. ``extra``: attributes
    to set (None: to leave out)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    row, col = (np.asarray(v, float) for v in orientation)
    normal = np.cross(row, col)
    series_uid, study_uid = generate_uid(), study_uid or generate_uid()
    pixels = np.add.outer(np.arange(size), np.arange(size)).astype(np.uint16)
    paths = []
    for i in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientName, ds.PatientID = "Test^Geometry", "G1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, i + 1
        if frame_of_reference:
            ds.FrameOfReferenceUID = frame_of_reference
        ds.ImageOrientationPatient = [float(x) for x in (*row, *col)]
        ds.ImagePositionPatient = [float(x) for x in np.asarray(origin) + normal * step_mm * i]
        ds.PixelSpacing = [spacing, spacing]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        for keyword, value in (extra or {}).items():  # None: leave the attribute out
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        ds.PixelData = pixels.tobytes()
        path = folder / f"IM{i:03d}.dcm"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths


def load_series(folder: Path):
    """The one series under ``folder``, sorted."""
    from medview.core.io.folder import load_paths

    (series,) = load_paths([folder]).series()
    return series
