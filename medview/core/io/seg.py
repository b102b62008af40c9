"""DICOM Segmentations (PS3.3 A.51) read by highdicom, as label masks over the frames
they reference, for the viewer to overlay.

A SEG found in an opened folder is not a series to page through: it is read once here
into a :class:`SegOverlay` (its segments' numbers, labels and colours, and one label
mask per referenced source frame) and the image frames show it on top. Any SEG highdicom
reads works (medview's own, see :mod:`medview.inference.seg_dicom`, or another tool's).
One that cannot be read is a :class:`~medview.core.errors.ReadError` naming the file; the
images load regardless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medview.core.errors import ReadError, one_line
from medview.core.imports import load

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"


def is_segmentation(header) -> bool:
    """Whether a header (read by :func:`medview.core.io.dicom.read_header`) is a SEG."""
    return str(header.get("SOPClassUID", "")) == SEGMENTATION_STORAGE


@dataclass(frozen=True)
class Segment:
    """One segment: its number in the SEG, label, and ``"#rrggbb"`` display colour
    (the SEG's recommended CIELab colour, or None when it recommends none)."""

    number: int
    label: str
    colour: str | None = None


@dataclass
class SegOverlay:
    """A SEG as the viewer shows it.

    Attributes
    ----------
    path : Path
        The SEG file.
    sop_instance_uid, series_description : str
        Its identity, and what it says it is (e.g. ``AI lungseg 1.0``).
    segments : tuple of Segment
        Every segment, in number order.
    masks : dict
        ``(referenced SOP Instance UID, 0-based frame index)`` → (rows, cols) uint8 mask
        holding segment numbers (0: none); frames with an empty mask are left out.
    """

    path: Path
    sop_instance_uid: str
    series_description: str
    segments: tuple[Segment, ...]
    masks: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    def mask_for(self, frame) -> np.ndarray | None:
        """The label mask over ``frame`` (a :class:`~medview.core.study.Frame`), or None
        when this SEG marks nothing on it."""
        header = getattr(frame, "header", None)
        uid = str(header.get("SOPInstanceUID", "")) if header is not None else ""
        return self.masks.get((uid, frame.index)) if uid else None

    @property
    def referenced_uids(self) -> set[str]:
        return {uid for uid, _ in self.masks}


def read_seg(path: str | Path) -> SegOverlay:
    """Read the SEG at ``path`` with highdicom.

    Raises
    ------
    ReadError
        The file is not a SEG highdicom can read, or its masks cannot be taken apart
        per source frame (e.g. it references no source images).
    """
    path = Path(path)
    hd = load("highdicom")
    try:
        seg = hd.seg.segread(path)
        segments = tuple(_segment(seg.get_segment_description(n))
                         for n in seg.get_segment_numbers())
        if not segments or max(s.number for s in segments) > 255:
            raise ValueError(f"{len(segments)} segments (1-255 are shown)")
        masks = _masks(seg)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom/highdicom raise many types
        raise ReadError(path, f"DICOM SEG not readable ({one_line(exc)})") from None
    if not masks:
        raise ReadError(path, "DICOM SEG marks nothing on the images it references")
    return SegOverlay(path, str(seg.SOPInstanceUID), str(seg.get("SeriesDescription", "")),
                      segments, masks)


def _segment(description) -> Segment:
    colour = None
    lab = description.get("RecommendedDisplayCIELabValue")
    if lab is not None:
        rgb = load("highdicom").color.CIELabColor.from_dicom_value(lab).to_rgb()
        colour = "#" + "".join(f"{int(round(min(255, max(0, v)))):02x}" for v in rgb)
    return Segment(int(description.SegmentNumber), str(description.SegmentLabel), colour)


def _referenced_frames(seg) -> dict[str, set[int]]:
    """Source SOP Instance UID → the 1-based frame numbers the SEG's frames derive from
    (empty set: a single-frame source)."""
    refs: dict[str, set[int]] = {}
    for item in seg.get("PerFrameFunctionalGroupsSequence", []):
        for derivation in item.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                numbers = source.get("ReferencedFrameNumber")
                if numbers is None or numbers == "":
                    numbers = []
                elif not isinstance(numbers, Sequence) or isinstance(numbers, str):
                    numbers = [numbers]
                refs.setdefault(str(source.ReferencedSOPInstanceUID), set()).update(
                    int(n) for n in numbers)
    return refs


def _masks(seg) -> dict[tuple[str, int], np.ndarray]:
    options = {"combine_segments": True, "skip_overlap_checks": True, "dtype": np.uint8,
               # many writers leave out SpatialLocationsPreserved; the masks are still
               # drawn on the frames they name
               "ignore_spatial_locations": True}
    masks: dict[tuple[str, int], np.ndarray] = {}
    for uid, numbers in _referenced_frames(seg).items():
        frames = sorted(numbers) or [1]
        keys = [(uid, n - 1) for n in frames]
        if numbers - {1}:
            stack = seg.get_pixels_by_source_frame(uid, frames, **options)
        else:  # a single-frame source (some writers still give its frame number, 1)
            stack = seg.get_pixels_by_source_instance([uid], **options)
        for key, mask in zip(keys, stack):
            if mask.any():
                masks[key] = np.ascontiguousarray(mask)
    return masks
