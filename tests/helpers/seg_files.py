"""DICOM SEGs for tests, written by medview's own writer (:mod:`medview.inference.seg_dicom`)
over a generated study, as ``medview analyze --dicom-out`` writes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medview.core.geometry import Measurement
from medview.core.io.folder import load_paths
from medview.inference.results import SegmentationResult
from medview.inference.seg_dicom import write_seg

#: a mask value per class, as a segmentation model's manifest gives them
CLASSES = {1: "lesion", 2: "organ"}


def square_mask(shape: tuple[int, int], values=(1, 2)) -> np.ndarray:
    """A (rows, cols) mask: value 1 in a square at the top left, 2 at the bottom right."""
    mask = np.zeros(shape, np.uint8)
    rows, cols = shape
    if 1 in values:
        mask[rows // 8: rows // 8 + rows // 4, cols // 8: cols // 8 + cols // 4] = 1
    if 2 in values:
        mask[rows // 2: rows // 2 + rows // 4, cols // 2: cols // 2 + cols // 4] = 2
    return mask


def segmentation_result(frame, mask: np.ndarray, model: str = "lesion-demo",
                        version: str = "0.1") -> SegmentationResult:
    """A SegmentationResult over ``frame`` as the analyser returns it (no model run)."""
    names = {v: CLASSES[v] for v in sorted(set(np.unique(mask)) - {0})}
    return SegmentationResult(
        file=str(frame.path), frame=frame.index,
        sop_instance_uid=str(frame.header.SOPInstanceUID), model=model, version=version,
        weights_sha256="0" * 64, engine="onnxruntime", device="cpu", precision="fp32", ms=1.0,
        ms_inference=1.0, mask=mask, mask_values=names,
        areas={n: Measurement(float((mask == v).sum()), "px²", "none") for v, n in names.items()},
        probabilities={n: 0.9 for n in names.values()}, label=next(iter(names.values()), None))


def write_test_seg(image: Path, out: Path, mask: np.ndarray | None = None) -> np.ndarray:
    """Write a SEG (medview's writer) over the DICOM file ``image``; returns its mask."""
    (frame,) = load_paths([image]).frames()
    mask = square_mask(frame.shape) if mask is None else mask
    write_seg(segmentation_result(frame, mask), frame, out)
    return mask
