"""What a model is for, and whether an image is inside it.

A manifest's ``intended_input`` block (:class:`IntendedInput`) declares where a
model applies: modalities, body parts, views, photometric interpretation, pixel
spacing and image size, and whether plain (non-DICOM) images are accepted.
:func:`check_scope` compares it with the facts of one image (:class:`ImageFacts`)
before anything runs, and the verdict (:class:`Scope`) travels with every result,
so a model never silently scores an image it was not made for. This is how
cleared chest-radiograph products state an intended use and check the input
(modality, view) before they score.

No torch and no Qt: the CLI, the AI panel and the trainer all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medview.core import vocabulary as vocab
from medview.core.errors import MedviewError


@dataclass(frozen=True)
class IntendedInput:
    """The images a model was made for; an empty tuple means "any".

    Attributes
    ----------
    modalities : tuple of str
        DICOM Modality codes, e.g. ``("DX", "CR")``.
    body_parts : tuple of str
        Body Part Examined defined terms, e.g. ``("CHEST",)``.
    views : tuple of str
        View Position terms, e.g. ``("PA", "AP")``; an image that records no
        view is not refused for it (many CR files leave it empty).
    photometric : tuple of str
        Photometric Interpretations, e.g. ``("MONOCHROME1", "MONOCHROME2")``.
    pixel_spacing_mm : (float, float) or None
        Smallest and largest pixel spacing (mm); not checked on uncalibrated images.
    image_size : (int, int) or None
        Smallest short side and largest long side, in pixels.
    non_dicom : bool
        Whether PNG/JPEG/TIFF images (which record none of the above) are accepted.
    unknown_body_part : bool
        Whether a DICOM image with no Body Part Examined is accepted; the user
        may decide otherwise per model.
    description : str
        The images in words, e.g. ``"chest radiographs"``; built from the fields
        when empty.
    """

    modalities: tuple[str, ...] = ()
    body_parts: tuple[str, ...] = ()
    views: tuple[str, ...] = ()
    photometric: tuple[str, ...] = ()
    pixel_spacing_mm: tuple[float, float] | None = None
    image_size: tuple[int, int] | None = None
    non_dicom: bool = False
    unknown_body_part: bool = False
    description: str = ""

    def describe(self) -> str:
        """E.g. ``"chest radiographs (DX/CR, PA/AP)"``."""
        codes = "/".join(self.modalities)
        views = "/".join(self.views)
        detail = ", ".join(x for x in (codes, views) if x)
        return f"{self.what()} ({detail})" if detail else self.what()

    def what(self) -> str:
        """The images in words, without codes: ``"chest radiographs"``."""
        if self.description:
            return self.description
        parts = " and ".join(vocab.body_part_name(b) for b in self.body_parts)
        mods = set(self.modalities)
        noun = "radiographs" if mods and mods <= vocab.RADIOGRAPHIC else "images"
        return f"{parts} {noun}" if parts else noun

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``intended_input`` block."""
        return {"description": self.description, "modalities": list(self.modalities),
                "body_parts": list(self.body_parts), "views": list(self.views),
                "photometric": list(self.photometric),
                "pixel_spacing_mm": list(self.pixel_spacing_mm) if self.pixel_spacing_mm
                else None,
                "image_size": list(self.image_size) if self.image_size else None,
                "non_dicom": self.non_dicom, "unknown_body_part": self.unknown_body_part}


@dataclass(frozen=True)
class ImageFacts:
    """What one image records about itself, read from its header (cheap: no pixels).

    Attributes
    ----------
    is_dicom : bool
    modality, body_part, view, photometric : str
        Normalised defined terms; ``""`` when not recorded.
    spacing_mm : float or None
        Mean pixel spacing when calibrated (PixelSpacing or ImagerPixelSpacing).
    rows, cols : int
    name : str
        The file (and frame) for messages.
    """

    is_dicom: bool
    modality: str
    body_part: str
    view: str
    photometric: str
    spacing_mm: float | None
    rows: int
    cols: int
    name: str = ""

    @classmethod
    def from_frame(cls, frame) -> ImageFacts:
        """The facts of a :class:`medview.core.study.Frame` (header only, no decoding)."""
        rows, cols = frame.shape
        spacing = frame.spacing
        mm = (spacing.row_mm + spacing.col_mm) / 2.0 if spacing.calibrated else None
        if not frame.is_dicom:
            return cls(False, "", "", "", "", mm, rows, cols, frame.label)
        return cls(True, vocab.normalise_term(frame.get("Modality")), _body_part(frame),
                   vocab.normalise_term(frame.get("ViewPosition")),
                   " ".join(str(frame.get("PhotometricInterpretation", "")).split()).upper(),
                   mm, rows, cols, frame.label)

    def describe(self) -> str:
        """E.g. ``"an MR of the shoulder"`` or ``"a non-DICOM image"``."""
        if not self.is_dicom:
            return "a non-DICOM image (it records no modality or body part)"
        text = vocab.modality_phrase(self.modality)
        text += (f" of the {vocab.body_part_name(self.body_part)}" if self.body_part
                 else " (body part not recorded)")
        return text + (f", {self.view} view" if self.view else "")


@dataclass(frozen=True)
class Scope:
    """The verdict of :func:`check_scope` for one image and one model.

    Attributes
    ----------
    inside : bool
        The image is inside the model's declared input (always True when the
        model declares none).
    checked : bool
        False when the model declares no intended input ("anywhere, unchecked").
    reasons : tuple of str
        Why the image is outside, one short clause each.
    message : str
        One sentence for the user.
    overridden : bool
        The user ran the model although the image is outside ("Run anyway").
    """

    inside: bool
    checked: bool
    reasons: tuple[str, ...] = ()
    message: str = ""
    overridden: bool = False

    def short(self) -> str:
        """The verdict in a few words, for provenance lines and exported tables."""
        if not self.checked:
            return "scope unchecked"
        if self.inside:
            return "inside intended input"
        return ("OUTSIDE intended input (run anyway)" if self.overridden
                else "outside intended input")

    def to_json(self) -> dict[str, Any]:
        """``{"inside": bool, "checked": bool, "reasons": [...]}`` (+ ``overridden``)."""
        data: dict[str, Any] = {"inside": self.inside, "checked": self.checked,
                                "reasons": list(self.reasons)}
        if self.overridden:
            data["overridden"] = True
        return data


UNCHECKED_MESSAGE = "This model declares no intended input: it runs on any image, unchecked."


class OutsideScopeError(MedviewError, ValueError):
    """An image is outside a model's declared input; the message says why in words."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        super().__init__(scope.message)


def check_scope(intended: IntendedInput | None, facts: ImageFacts,
                accept_unknown_body_part: bool | None = None) -> Scope:
    """Is the image inside the model's declared input?

    Parameters
    ----------
    intended : IntendedInput or None
        The manifest's declaration; None means the model applies anywhere, unchecked.
    facts : ImageFacts
    accept_unknown_body_part : bool, optional
        The user's choice for images that record no body part; default: the
        manifest's ``unknown_body_part``.

    Returns
    -------
    Scope
    """
    if intended is None:
        return Scope(True, False, (), UNCHECKED_MESSAGE)
    accept_unknown = (intended.unknown_body_part if accept_unknown_body_part is None
                      else accept_unknown_body_part)
    reasons = _reasons(intended, facts, accept_unknown)
    if not reasons:
        return Scope(True, True, (), f"Inside the model's intended input: {intended.describe()}.")
    # facts.describe() already names the modality, body part and view: add only the rest.
    extra = [r for r in reasons if not r.startswith(_DESCRIBED)]
    message = (f"This model is for {intended.describe()}; this image is {facts.describe()}."
               + (f" ({'; '.join(extra)}.)" if extra else ""))
    return Scope(False, True, tuple(reasons), message)


def _reasons(intended: IntendedInput, facts: ImageFacts, accept_unknown: bool) -> list[str]:
    reasons = []
    if not facts.is_dicom:
        if not intended.non_dicom:
            reasons.append("the model accepts DICOM images only")
    else:
        reasons += _term_reason("modality", facts.modality, intended.modalities)
        if intended.body_parts and not facts.body_part:
            if not accept_unknown:
                reasons.append("unknown body parts are refused for this model")
        else:
            reasons += _term_reason("body part", facts.body_part, intended.body_parts)
        if facts.view:
            reasons += _term_reason("view", facts.view, intended.views)
        reasons += _term_reason("photometric interpretation", facts.photometric,
                                intended.photometric)
    reasons += _range_reasons(intended, facts)
    return reasons


#: Reasons whose facts :meth:`ImageFacts.describe` states already.
_DESCRIBED = ("modality ", "body part ", "view ")


def _term_reason(what: str, value: str, allowed: tuple[str, ...]) -> list[str]:
    if not allowed or value in allowed:
        return []
    shown = value or "not recorded"
    return [f"{what} {shown}, not {'/'.join(allowed)}"]


def _range_reasons(intended: IntendedInput, facts: ImageFacts) -> list[str]:
    reasons = []
    if intended.pixel_spacing_mm and facts.spacing_mm is not None:
        low, high = intended.pixel_spacing_mm
        if not low <= facts.spacing_mm <= high:
            reasons.append(f"pixel spacing {facts.spacing_mm:.3g} mm, not {low:g}–{high:g} mm")
    if intended.image_size:
        low, high = intended.image_size
        short, long_ = sorted((facts.rows, facts.cols))
        if short < low or long_ > high:
            reasons.append(f"size {facts.cols}×{facts.rows} px, not {low}–{high} px a side")
    return reasons


def derive_intended_input(facts: list[ImageFacts]) -> IntendedInput:
    """The declaration a training set implies: what its images are, with margins.

    Modalities, body parts, views and photometric interpretations are those the DICOM
    images record; sizes and spacings span half the smallest to twice the largest seen;
    plain images are accepted if the set holds any. A set of plain images only records no
    modality or body part, so the result checks nothing but size: the user must say.

    Parameters
    ----------
    facts : list of ImageFacts
        One per training image.
    """
    dicom = [f for f in facts if f.is_dicom]

    def terms(attr: str) -> tuple[str, ...]:
        return tuple(sorted({getattr(f, attr) for f in dicom} - {""}))

    sizes = [sorted((f.rows, f.cols)) for f in facts]
    spacings = [f.spacing_mm for f in dicom]
    calibrated = bool(spacings) and all(s is not None for s in spacings)
    return IntendedInput(
        modalities=terms("modality"), body_parts=terms("body_part"), views=terms("view"),
        photometric=terms("photometric"),
        pixel_spacing_mm=(min(spacings) / 2, max(spacings) * 2) if calibrated else None,
        image_size=(max(1, min(s[0] for s in sizes) // 2), max(s[1] for s in sizes) * 2)
        if sizes else None,
        non_dicom=len(dicom) < len(facts),
        unknown_body_part=any(not f.body_part for f in dicom))


def derive_for_files(paths) -> IntendedInput:
    """:func:`derive_intended_input` of the images in ``paths`` (headers only; an
    unreadable file is left out)."""
    from medview.core.io.folder import load_paths

    frames = [f for f in load_paths([str(p) for p in paths]).frames() if f.index == 0]
    return derive_intended_input([ImageFacts.from_frame(f) for f in frames])


def _body_part(frame) -> str:
    """Body Part Examined, else the first Anatomic Region's meaning (DX/CR often carry both)."""
    term = vocab.normalise_term(frame.get("BodyPartExamined"))
    if term:
        return term
    regions = frame.get("AnatomicRegionSequence")
    try:
        meaning = vocab.normalise_term(regions[0].CodeMeaning) if regions else ""
    except (AttributeError, IndexError, TypeError):
        return ""
    return meaning if meaning in vocab.BODY_PARTS else ""
