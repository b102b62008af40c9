"""Synthetic CT series with known geometry, written as real DICOM files.

Every voxel's value is a function of its patient position (a steep linear ramp plus a
bright sphere at :data:`SPHERE_CENTRE`), so any reslice can be checked against the
function and against a plain numpy reslice of the written array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

SPHERE_CENTRE = np.array([5.0, -3.0, 8.0])   # patient mm (LPS)
SPHERE_RADIUS = 6.0
WINDOW = (350.0, 3400.0)                     # centre, width (HU): nothing clips
INTERCEPT = -1024


def ct_value(points: np.ndarray) -> np.ndarray:
    """HU at patient positions ``points`` (..., 3)."""
    ramp = points @ np.array([20.0, -12.0, 8.0])
    inside = np.linalg.norm(points - SPHERE_CENTRE, axis=-1) <= SPHERE_RADIUS
    return ramp + 800.0 * inside


@dataclass
class Written:
    """What :func:`write_ct` wrote: the stored values of the slices in order along the
    normal, (slices, rows, cols), and their geometry."""

    folder: Path
    stored: np.ndarray
    positions: np.ndarray     # IPP per slice, in the same order
    row: np.ndarray
    col: np.ndarray
    spacing: tuple[float, float]


def write_ct(folder: Path, *, slices: int = 40, size: int = 64,
             spacing: tuple[float, float] = (0.7, 0.7), step: float = 2.5,
             row=(1.0, 0.0, 0.0), col=(0.0, 1.0, 0.0), stack=None,
             gaps: list[float] | None = None, skip=(), start: int = 0,
             join: Path | None = None) -> Written:
    """Write a CT series of ``slices`` ``size``² slices centred near the patient origin.

    Parameters
    ----------
    row, col : direction cosines (Image Orientation (Patient)).
    stack : direction the slice positions advance in (default the normal; anything
        else is a gantry tilt).
    gaps : distances between consecutive slices (default ``step`` each).
    skip : slice numbers not written (a missing file).
    start : number of the first file (IM{start:04d}.dcm).
    join : a file whose study and series these slices join.
    """
    folder.mkdir(parents=True, exist_ok=True)
    row, col = np.asarray(row, float), np.asarray(col, float)
    normal = np.cross(row, col)
    stack = normal if stack is None else np.asarray(stack, float) / np.linalg.norm(stack)
    gaps = [step] * (slices - 1) if gaps is None else list(gaps)
    along = np.concatenate([[0.0], np.cumsum(gaps)])
    along -= along[-1] / 2
    rs, cs = spacing
    centre_offset = ((size - 1) / 2) * (rs * col + cs * row)
    jj, ii = np.meshgrid(np.arange(size), np.arange(size))
    if join is not None:
        ds = pydicom.dcmread(join, stop_before_pixels=True)
        series_uid, study_uid = ds.SeriesInstanceUID, ds.StudyInstanceUID
    else:
        series_uid, study_uid = generate_uid(), generate_uid()
    kept, ipps = [], []
    for k, d in enumerate(along):
        ipp = d * stack - centre_offset
        points = ipp + jj[..., None] * cs * row + ii[..., None] * rs * col
        stored = np.rint(ct_value(points) - INTERCEPT).astype(np.int16)
        if k in skip:
            continue
        kept.append(stored)
        ipps.append(ipp)
        _write_slice(folder / f"IM{start + k:04d}.dcm", stored, ipp, row, col, spacing,
                     series_uid, study_uid, start + k + 1)
    return Written(folder, np.stack(kept), np.array(ipps), row, col, spacing)


def _write_slice(path: Path, stored: np.ndarray, ipp, row, col, spacing, series_uid,
                 study_uid, number: int) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.Modality, ds.PatientName, ds.PatientID = "CT", "MPR^Test", "MPR"
    ds.SeriesNumber, ds.InstanceNumber = 1, number
    ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row, *col)]
    ds.PixelSpacing = list(spacing)
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = INTERCEPT, 1
    ds.WindowCenter, ds.WindowWidth = WINDOW
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)


def resample_rows(image: np.ndarray, step_in: float, step_out: float) -> np.ndarray:
    """Plain numpy: linear interpolation down the rows from ``step_in`` mm to
    ``step_out`` mm apart, first row kept (the reference for reslices)."""
    n = image.shape[0]
    targets = np.arange(0.0, (n - 1) * step_in + 1e-6, step_out)
    source = np.arange(n) * step_in
    return np.stack([np.interp(targets, source, image[:, c].astype(float))
                     for c in range(image.shape[1])], axis=1)
