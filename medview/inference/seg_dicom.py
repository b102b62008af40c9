"""A segmentation result as a DICOM Segmentation (PS3.3 A.51), written by highdicom.

The SEG references the analysed image (same study, frame of reference and pixel grid), and
names the model as the segmentation algorithm (AlgorithmIdentificationSequence: model name,
version, family "Artificial Intelligence", engine, weights checksum and the scope verdict as
parameters), so
that any PACS stores it and other viewers overlay it. Each mask value becomes one segment.
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np

from medview import __version__
from medview.core.atomic import atomic_path
from medview.core.imports import load
from medview.core.io.dicom import number_of_frames
from medview.core.sr.documents import MANUFACTURER, why_not_referenceable
from medview.core.study import Frame
from medview.inference.results import SegmentationResult
from medview.inference.sr_dicom import algorithm_parameters

SEG_SERIES_NUMBER = 9100  # one per medview AI series, out of the way of the scanner's
_PROPERTY_SCHEME = "99MEDVIEW"  # private coding scheme: a model's class names


def why_no_seg(frame: Frame) -> str | None:
    """Why a SEG cannot be written for ``frame`` (None when it can)."""
    reason = why_not_referenceable(frame)
    if reason is None and number_of_frames(frame.header) > 1:
        reason = f"{frame.label}: DICOM SEG of one frame of a multi-frame image is not written yet"
    return reason


def write_seg(result: SegmentationResult, frame: Frame, out: str | Path) -> str:
    """Write ``result`` as a binary DICOM SEG over ``frame``; returns its SOP Instance UID.

    Raises
    ------
    ValueError
        When the frame cannot be referenced (see :func:`why_no_seg`) or the mask does
        not match it.
    """
    reason = why_no_seg(frame)
    if reason:
        raise ValueError(reason)
    hd = load("highdicom")
    codes = load("pydicom.sr.codedict").codes
    values = sorted(result.mask_values)
    if result.mask.shape != (int(frame.header.Rows), int(frame.header.Columns)):
        raise ValueError(f"{frame.label}: the mask is {result.mask.shape}, the image "
                         f"{frame.header.Rows}x{frame.header.Columns}")
    pixels = np.stack([result.mask == v for v in values], axis=-1)[None]  # frames, r, c, segs
    algorithm = hd.AlgorithmIdentificationSequence(
        name=result.model, version=result.version,
        family=codes.cid7162.ArtificialIntelligence,
        parameters=algorithm_parameters(result))
    segments = [hd.seg.SegmentDescription(
        segment_number=i, segment_label=result.mask_values[v][:64],
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=hd.sr.CodedConcept(result.mask_values[v][:16], _PROPERTY_SCHEME,
                                                   result.mask_values[v][:64]),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm) for i, v in enumerate(values, start=1)]
    seg = hd.seg.Segmentation(
        source_images=[frame.header], pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments, series_instance_uid=hd.UID(),
        series_number=SEG_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer=MANUFACTURER, manufacturer_model_name=f"medview {__version__}",
        software_versions=__version__, device_serial_number=socket.gethostname()[:64] or "-",
        series_description=f"AI {result.model} {result.version}"[:64],
        content_label="AI_SEG", content_creator_name=None, omit_empty_frames=False)
    with atomic_path(out) as tmp:
        seg.save_as(tmp)
    return str(seg.SOPInstanceUID)
