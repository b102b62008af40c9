"""DICOM SEGs opened with a study as one RGBA layer per frame (pure numpy, no Qt).

Each segment keeps the colour its SEG recommends, else one of
:data:`medview.analysis.overlays.CLASS_COLOURS` in segment order; a segment can be hidden
by its key ``(SEG SOP Instance UID, segment number)``. Several SEGs over one frame are
drawn in the order they were opened, a later one over an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from medview.analysis.overlays import CLASS_COLOURS, mask_rgba

SegmentKey = tuple[str, int]  # (SEG SOP Instance UID, segment number)


def segment_colours(segs: Iterable) -> dict[SegmentKey, str]:
    """Every segment's display colour (see the module docstring)."""
    colours: dict[SegmentKey, str] = {}
    for seg in segs:
        for i, s in enumerate(seg.segments):
            colours[(seg.sop_instance_uid, s.number)] = (
                s.colour or CLASS_COLOURS[i % len(CLASS_COLOURS)])
    return colours


def segs_over(segs: Iterable, frames: Iterable) -> list:
    """The SEGs (of ``segs``) that mark something on one of ``frames``."""
    uids = {str(f.header.get("SOPInstanceUID", "")) for f in frames if f.header is not None}
    return [seg for seg in segs if seg.referenced_uids & uids]


def frame_layer(segs: list, frame, hidden: set[SegmentKey] = frozenset()
                ) -> np.ndarray | None:
    """The RGBA layer of every shown segment over ``frame``, or None when none marks it."""
    colours = segment_colours(segs)
    layer = None
    for seg in segs:
        mask = seg.mask_for(frame)
        if mask is None:
            continue
        shown = {s.number: colours[(seg.sop_instance_uid, s.number)] for s in seg.segments
                 if (seg.sop_instance_uid, s.number) not in hidden}
        if not shown:
            continue
        rgba = mask_rgba(mask, shown)
        if layer is None:
            layer = rgba
        else:
            over = rgba[..., 3] > 0
            layer[over] = rgba[over]
    return layer
