"""The coded concepts medview's SR documents use, as plain tuples, both ways.

``(code value, coding scheme designator, code meaning)``; :func:`coded` turns one into
a highdicom ``CodedConcept``. Standard codes (SCT, DCM, UCUM, PS3.16) where a concept
exists; the calibration a measurement relied on has none in TID 300, so it is a
Measurement Method (SCT 370129005) from medview's private scheme ``99MEDVIEW``, declared
in each document's Coding Scheme Identification Sequence (PS3.3 C.12.1.1.2).
"""

from __future__ import annotations

from medview.core import geometry
from medview.core.imports import load

Concept = tuple[str, str, str]

PRIVATE_SCHEME = "99MEDVIEW"
PRIVATE_SCHEME_NAME = "medview measurement calibration codes"

LENGTH: Concept = ("410668003", "SCT", "Length")
ANGLE: Concept = ("1483009", "SCT", "Angle")
AREA: Concept = ("42798000", "SCT", "Area")
MEAN: Concept = ("373098007", "SCT", "Mean")
SD: Concept = ("386136009", "SCT", "Standard Deviation")
MINIMUM: Concept = ("255605001", "SCT", "Minimum")
MAXIMUM: Concept = ("56851009", "SCT", "Maximum")
#: ROI statistics are TID 300 measurements of a quantity with a derivation (CID 7464).
STATISTICS: dict[str, Concept] = {"mean": MEAN, "sd": SD, "min": MINIMUM, "max": MAXIMUM}

X_RAY_ATTENUATION: Concept = ("110850", "DCM", "X-Ray Attenuation")
MR_SIGNAL: Concept = ("110852", "DCM", "MR signal intensity")
ECHOGENICITY: Concept = ("110849", "DCM", "Echogenicity")
PIXEL_VALUE: Concept = ("MV-PIXEL-VALUE", PRIVATE_SCHEME, "Modality pixel value")

IMAGING_PROCEDURE: Concept = ("363679005", "SCT", "Imaging procedure")
KEY_OBJECTS_TITLE: Concept = ("113000", "DCM", "Of Interest")

#: medview's unit strings (geometry, pixels.DisplayParams.units) as UCUM codes.
UNITS: dict[str, Concept] = {
    "mm": ("mm", "UCUM", "millimeter"),
    "mm²": ("mm2", "UCUM", "square millimeter"),
    "px": ("{pixel}", "UCUM", "pixel"),
    "px²": ("{square pixel}", "UCUM", "square pixel"),
    "°": ("deg", "UCUM", "degree"),
    "HU": ("[hnsf'U]", "UCUM", "Hounsfield unit"),
    "": ("1", "UCUM", "no units"),
}

#: The ``Spacing.source`` of a user calibration (a length the reader says is N mm); any
#: other unknown source is kept as the code meaning.
USER_CALIBRATION = geometry.USER_CALIBRATION

#: Spacing source (``geometry.Spacing.source``) -> Measurement Method code.
CALIBRATION: dict[str, Concept] = {
    geometry.PIXEL_SPACING: ("MV-PIXEL-SPACING", PRIVATE_SCHEME,
                             "Pixel Spacing (in the patient)"),
    geometry.IMAGER_PIXEL_SPACING: ("MV-IMAGER-PIXEL-SPACING", PRIVATE_SCHEME,
                                    "Imager Pixel Spacing (at the detector)"),
    geometry.MAGNIFICATION_CORRECTED: ("MV-IMAGER-SPACING-MAGNIFICATION", PRIVATE_SCHEME,
                                       "Imager Pixel Spacing over estimated magnification"),
    geometry.NOMINAL_SCANNED_PIXEL_SPACING: ("MV-SCANNED-FILM-SPACING", PRIVATE_SCHEME,
                                             "Nominal Scanned Pixel Spacing (film)"),
    geometry.UNCALIBRATED: ("MV-UNCALIBRATED", PRIVATE_SCHEME, "Uncalibrated (pixels)"),
    USER_CALIBRATION: ("MV-USER-CALIBRATION", PRIVATE_SCHEME,
                       "User calibration from a known length"),
}
OTHER_CALIBRATION = "MV-OTHER-CALIBRATION"


def coded(concept: Concept):
    """A highdicom ``CodedConcept`` for ``concept``."""
    value, scheme, meaning = concept
    return load("highdicom").sr.CodedConcept(value=value, scheme_designator=scheme,
                                             meaning=meaning)


def key(code) -> tuple[str, str]:
    """``(value, scheme)`` of a code read from a document, for comparisons."""
    return str(code.value), str(code.scheme_designator)


def unit_concept(unit: str) -> Concept:
    """The UCUM code of one of medview's unit strings (an annotation ``{...}`` for
    units UCUM does not name, e.g. a Rescale Type such as ``OD``)."""
    known = UNITS.get(unit)
    if known is not None:
        return known
    text = _ascii(unit) or "unknown"
    return (f"{{{text}}}", "UCUM", text)


def unit_of(code) -> str:
    """medview's unit string for a UCUM code read from a document."""
    for unit, (value, scheme, _) in UNITS.items():
        if key(code) == (value, scheme):
            return unit
    value = str(code.value)
    return value[1:-1] if value.startswith("{") and value.endswith("}") else value


def quantity(units: str, modality: str) -> Concept:
    """What ROI statistics are statistics of (CID 7180), from units and modality."""
    if units == "HU":
        return X_RAY_ATTENUATION
    return {"MR": MR_SIGNAL, "US": ECHOGENICITY}.get(modality.upper(), PIXEL_VALUE)


def calibration_concept(source: str) -> Concept:
    """The Measurement Method code saying which spacing a measurement relied on."""
    return CALIBRATION.get(source) or (OTHER_CALIBRATION, PRIVATE_SCHEME,
                                       _ascii(source)[:64] or "unknown")


def calibration_of(code) -> str:
    """The spacing source named by a Measurement Method code (empty when it is not
    one of medview's)."""
    if code is None or str(code.scheme_designator) != PRIVATE_SCHEME:
        return ""
    for source, concept in CALIBRATION.items():
        if str(code.value) == concept[0]:
            return source
    return str(code.meaning) if str(code.value) == OTHER_CALIBRATION else ""


def coding_scheme():
    """The Coding Scheme Identification item that declares ``99MEDVIEW``."""
    return load("highdicom.coding_schemes").CodingSchemeIdentificationItem(
        designator=PRIVATE_SCHEME, name=PRIVATE_SCHEME_NAME)


def _ascii(text: str) -> str:
    """Code meanings are in the default character repertoire: keep them ASCII."""
    return " ".join(str(text).encode("ascii", "replace").decode("ascii").split())
