"""Named window presets per modality, as plain data.

Values are (name, center, width) in the modality's output units; for CT that is
Hounsfield units. They are the widely taught reading windows (e.g. the values
Radiopaedia and most vendor consoles ship), not anything from the DICOM
standard, which leaves presets to the application. ``medview.core.pixels``
turns them into :class:`~medview.core.pixels.Window` objects.
"""

from __future__ import annotations

# (name, center, width), in HU, ordered roughly by how often radiologists reach for them.
CT_PRESETS: tuple[tuple[str, float, float], ...] = (
    ("Brain", 40.0, 80.0),
    ("Subdural", 75.0, 215.0),
    ("Stroke", 40.0, 40.0),
    ("Temporal bone", 600.0, 2800.0),
    ("Mediastinum", 50.0, 350.0),
    ("Lung", -600.0, 1500.0),
    ("Abdomen", 40.0, 400.0),
    ("Liver", 30.0, 150.0),
    ("Bone", 400.0, 1800.0),
    ("Angio", 300.0, 600.0),
)

_BY_MODALITY: dict[str, tuple[tuple[str, float, float], ...]] = {"CT": CT_PRESETS}


def modality_presets(modality: str, units: str = "") -> tuple[tuple[str, float, float], ...]:
    """Preset windows suited to a modality.

    Parameters
    ----------
    modality : str
        DICOM Modality (0008,0060), e.g. ``"CT"``; case-insensitive.
    units : str
        Units of the modality values (``"HU"`` selects the CT presets even when
        the modality is unknown, e.g. an enhanced CT whose modality was not passed).

    Returns
    -------
    tuple of (name, center, width)
        Empty for modalities whose values have no fixed scale (MR, CR/DX, US...),
        where fixed numeric windows would be meaningless.
    """
    if units.upper() == "HU":
        return CT_PRESETS
    return _BY_MODALITY.get(modality.strip().upper(), ())
