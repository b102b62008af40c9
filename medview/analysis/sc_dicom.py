"""A segmentation result as a DICOM Secondary Capture with the overlay burned in, for
PACS viewers that do not show DICOM SEG (PS3.3 A.8.1, written by highdicom).

The analysed frame is rendered with its default window, the mask is drawn over it in the
viewer's colours (:func:`medview.analysis.overlays.mask_rgba`), and a caption names the
model at the bottom. A demo model's capture says ``NOT FOR DIAGNOSIS - demo model`` across
the top of the image and in its Image Comments and Series Description, so that no one reads it as a result.
The SEG (:mod:`medview.inference.seg_dicom`) stays the object that carries the mask itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from medview import __version__
from medview.analysis.overlays import class_colours, mask_rgba
from medview.core import geometry, pixels
from medview.core.atomic import atomic_path
from medview.core.imports import load
from medview.core.sr.documents import MANUFACTURER, why_not_referenceable
from medview.core.study import Frame
from medview.inference.results import SegmentationResult


# patient axes (DICOM LPS): the letter towards the negative and the positive end
_AXIS_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))
SC_SERIES_NUMBER = 9300
DEMO_TEXT = "NOT FOR DIAGNOSIS - demo model"
_WHITE, _WARNING = (255, 255, 255), (255, 200, 0)


def is_demo_model(manifest) -> bool:
    """Whether a model is a demonstration: "demo" is a word of its name, or its model card's
    intended use starts with "DEMO" (as the shipped demo models' do)."""
    words = re.split(r"[^a-z0-9]+", manifest.name.lower())
    return "demo" in words or manifest.card.intended_use.lstrip().upper().startswith("DEMO")


def why_no_sc(frame: Frame) -> str | None:
    """Why a secondary capture cannot be written for ``frame`` (None when it can)."""
    reason = why_not_referenceable(frame)
    if reason is None and _patient_orientation(frame) is None:
        reason = f"{frame.label}: no image orientation to give a secondary capture"
    return reason


def burned_in(result: SegmentationResult, frame: Frame, demo: bool) -> np.ndarray:
    """The frame as displayed by default with the mask and caption drawn in: (rows, cols, 3)
    uint8 RGB."""
    shown = pixels.render(frame.stored(), frame.params)
    rgb = np.repeat(shown[..., None], 3, axis=2) if shown.ndim == 2 else shown.copy()
    if result.mask.shape != rgb.shape[:2]:
        raise ValueError(f"{frame.label}: the mask is {result.mask.shape}, the image "
                         f"{rgb.shape[:2]}")
    layer = mask_rgba(result.mask, class_colours(result.mask_values))
    alpha = layer[..., 3:].astype(np.float32) / 255.0
    rgb = np.round(rgb * (1.0 - alpha) + layer[..., :3] * alpha).astype(np.uint8)
    _text(rgb, f"AI {result.model} {result.version}: model output, not a diagnosis",
          top=False, colour=_WHITE)
    if demo:
        _text(rgb, DEMO_TEXT, top=True, colour=_WARNING, scale=1.6)
    return rgb


def write_sc(result: SegmentationResult, frame: Frame, out: str | Path,
             demo: bool) -> str:
    """Write the burned-in capture of ``result`` over ``frame``; its SOP Instance UID.

    Raises ValueError when the frame cannot be referenced (see :func:`why_no_sc`).
    """
    reason = why_no_sc(frame)
    if reason:
        raise ValueError(reason)
    hd = load("highdicom")
    image = burned_in(result, frame, demo)
    description = f"AI {result.model} {result.version} overlay"
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=frame.header, pixel_array=image, photometric_interpretation="RGB",
        bits_allocated=8, coordinate_system="PATIENT", series_instance_uid=hd.UID(),
        series_number=SC_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer=MANUFACTURER, patient_orientation=_patient_orientation(frame),
        series_description=(f"{description} {DEMO_TEXT}" if demo else description)[:64],
        software_versions=__version__)
    sc.BurnedInAnnotation = "YES"
    sc.ImageComments = (DEMO_TEXT + ". " if demo else "") + (
        f"Mask of {result.model} {result.version} ({result.engine}) burned in; "
        "model output, not a diagnosis.")
    with atomic_path(out) as tmp:
        sc.save_as(tmp)
    return str(sc.SOPInstanceUID)


def _patient_orientation(frame: Frame) -> tuple[str, str] | None:
    """The main patient direction along the rows and down the columns (one letter each),
    from Image Orientation (Patient) or Patient Orientation; None when neither says."""
    ds = frame.header
    cosines = geometry.image_orientation(ds, frame.index)
    if cosines is not None:
        letters = tuple(_AXIS_LETTERS[a][int(v[a] > 0)] for v in cosines
                        for a in [int(np.argmax(np.abs(v)))])
    else:
        value = ds.get("PatientOrientation")
        letters = tuple(str(v)[:1] for v in value) if value and len(value) == 2 else ()
    return letters if len(letters) == 2 and all(letters) else None


def _text(rgb: np.ndarray, text: str, top: bool, colour, scale: float = 1.0) -> None:
    """Draw ``text`` in place, centred across the top or the bottom on a darkened band,
    sized to the image (``scale`` times the caption's size, never wider than the image)."""
    cv2 = load("cv2")
    rows, cols = rgb.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, _), _ = cv2.getTextSize(text, font, 1.0, 2)
    size = min(scale * rows / 700.0, 0.95 * cols / w)
    thickness = max(1, int(round(size * 2)))
    (w, h), base = cv2.getTextSize(text, font, size, thickness)
    pad = max(2, h // 3)
    y0 = 0 if top else max(0, rows - h - base - 2 * pad)
    rgb[y0: y0 + h + base + 2 * pad] //= 3  # dark under the text: it reads on any image
    cv2.putText(rgb, text, ((cols - w) // 2, y0 + pad + h), font, size, colour, thickness,
                cv2.LINE_AA)
