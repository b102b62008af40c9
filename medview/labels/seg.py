"""Masks as DICOM Segmentation objects (PS3.3 A.51) that reference their source image.

highdicom builds and reads the IOD; nothing here writes DICOM attributes by hand. A mask
is a label map (0 = background, k = segment k of the project); it is stored as a BINARY
SEG with one segment per project segment (segment number = mask value), referencing the
source image's SOP Instance UID (and frame, for a multi-frame source). Segments are coded as the generic
"Tissue" of category "Tissue" (SNOMED CT); the project's segment name is the Segment
Label, which is what medview reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview import __version__
from medview.core.atomic import atomic_path
from medview.core.imports import load
from medview.core.io.dicom import number_of_frames, read_header
from medview.labels.files import LabelsError, save_failure
from medview.labels.project import Segment

__all__ = ["SegMask", "write_seg", "read_seg"]


@dataclass(frozen=True)
class SegMask:
    """A mask read back from a SEG file.

    Attributes
    ----------
    labels : numpy.ndarray
        uint8 ``(rows, cols)``: 0 background, k the segment named ``names[k - 1]``.
    names : list of str
        Segment labels by segment number (from 1).
    source_sop_instance_uid : str
        The image the mask belongs to.
    source_frame : int
        Its frame index, from 0.
    """

    labels: np.ndarray
    names: list[str]
    source_sop_instance_uid: str
    source_frame: int


def write_seg(out: Path, source: Path, frame: int, labels: np.ndarray,
              segments: list[Segment]) -> str:
    """Write ``labels`` (a mask of frame ``frame`` of DICOM file ``source``) as a SEG.

    Parameters
    ----------
    out : Path
        The SEG file to write (atomically).
    source : Path
        The DICOM image the mask was drawn on.
    frame : int
        Frame index within ``source``, from 0.
    labels : numpy.ndarray
        Integer ``(rows, cols)``, the source image's size; value k is ``segments[k - 1]``.
    segments : list of Segment
        The project's segments.

    Returns
    -------
    str
        The SEG's SOP Instance UID.

    Raises
    ------
    LabelsError
        If ``source`` is not a DICOM image, the mask's size or values do not fit, or
        the file cannot be written.
    """
    hd = load("highdicom")
    header = _source_header(source)
    labels = _checked_labels(labels, header, source, len(segments))
    n_frames = number_of_frames(header)
    if not 0 <= frame < n_frames:
        raise LabelsError(f"{source}: has no frame {frame + 1}")
    # Every project segment, in project numbering, so segment numbers are mask values.
    stack = np.zeros((len(segments), n_frames) + labels.shape, np.uint8)
    for k in range(1, len(segments) + 1):
        stack[k - 1, frame] = labels == k
    pixel_array = np.moveaxis(stack, 0, -1)  # (frames, rows, cols, segments)
    uid = str(load("pydicom.uid").generate_uid())
    try:
        seg = hd.seg.Segmentation(
            source_images=[header], pixel_array=pixel_array,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[_description(hd, k, s) for k, s in enumerate(segments, 1)],
            series_instance_uid=str(load("pydicom.uid").generate_uid()), series_number=9900,
            sop_instance_uid=uid, instance_number=1, manufacturer="medview",
            manufacturer_model_name="medview labels", software_versions=f"medview {__version__}",
            device_serial_number="0", series_description="medview label mask",
            omit_empty_frames=bool(labels.any()))
    except (ValueError, TypeError, AttributeError) as exc:
        raise LabelsError(f"{source}: cannot be referenced by a DICOM SEG ({exc})") from None
    try:
        with atomic_path(out) as tmp:
            seg.save_as(tmp, enforce_file_format=True)
    except OSError as exc:
        raise save_failure(out, exc) from None
    return uid


def read_seg(path: Path) -> SegMask:
    """Read a SEG written by :func:`write_seg` back as a label map.

    Raises
    ------
    LabelsError
        If the file is not a single-image DICOM SEG medview can read.
    """
    hd = load("highdicom")
    try:
        seg = hd.seg.segread(str(path))
        sources = seg.get_source_image_uids()
        if len(sources) != 1:
            raise ValueError(f"it references {len(sources)} images; medview masks reference one")
        _, _, sop_uid = sources[0]
        frames = _referenced_frames(seg)
        frame = frames[0] if frames else 1
        if len(set(frames)) > 1:
            raise ValueError("it covers several frames; medview masks cover one")
        if frames:
            planes = seg.get_pixels_by_source_frame(sop_uid, source_frame_numbers=[frame],
                                                    combine_segments=True, relabel=False)
        else:
            planes = seg.get_pixels_by_source_instance([sop_uid], combine_segments=True,
                                                       relabel=False)
        names = [d.segment_label for d in seg.SegmentSequence]
        numbers = [int(d.SegmentNumber) for d in seg.SegmentSequence]
    except FileNotFoundError:
        raise LabelsError(f"{path}: file not found") from None
    except (ValueError, KeyError, AttributeError, TypeError, OSError) as exc:
        raise LabelsError(f"{path}: not a readable DICOM SEG ({exc})") from None
    return SegMask(np.asarray(planes[0], np.uint8), _names_by_number(names, numbers),
                   str(sop_uid), frame - 1)


def _referenced_frames(seg) -> list[int]:
    """Source frame numbers the SEG's frames derive from (empty: single-frame source)."""
    out = []
    for item in getattr(seg, "PerFrameFunctionalGroupsSequence", []):
        for derivation in getattr(item, "DerivationImageSequence", []):
            for src in getattr(derivation, "SourceImageSequence", []):
                value = src.get("ReferencedFrameNumber")
                if value not in (None, ""):
                    out += [int(n) for n in ([value] if isinstance(value, (int, str)) else value)]
    return out


def _names_by_number(names: list[str], numbers: list[int]) -> list[str]:
    out = [""] * max(numbers, default=0)
    for n, name in zip(numbers, names):
        out[n - 1] = name
    return out


def _source_header(source: Path):
    from medview.core.errors import ReadError

    try:
        header = read_header(source)
    except ReadError as err:
        raise LabelsError(f"{err.path}: {err.reason} (a DICOM SEG needs a DICOM source image)") \
            from None
    if not getattr(header, "medview_has_pixels", True):
        raise LabelsError(f"{source}: holds no image")
    return header


def _checked_labels(labels: np.ndarray, header, source: Path, n_segments: int) -> np.ndarray:
    labels = np.asarray(labels)
    shape = (int(header.Rows), int(header.Columns))
    if labels.shape != shape:
        raise LabelsError(f"{source}: the mask is {labels.shape[0]}×{labels.shape[1]} but the "
                          f"image is {shape[0]}×{shape[1]}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 \
            or labels.max() > n_segments:
        raise LabelsError(f"{source}: mask values must be 0 … {n_segments} (the project's "
                          "segments)")
    return labels.astype(np.uint8)


def _description(hd, number: int, segment: Segment):
    code = hd.sr.CodedConcept
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=segment.name,
        segmented_property_category=code("85756007", "SCT", "Tissue"),
        segmented_property_type=code("85756007", "SCT", "Tissue"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
