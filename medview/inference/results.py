"""Plain result objects of one analysis: what the viewer draws and the CLI prints.

No torch and no Qt: the GUI's analysis panel, the CLI and the audit log all
read these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medview.core.geometry import Measurement
from medview.inference.familiarity import Familiarity
from medview.inference.scope import UNCHECKED_MESSAGE, Scope

#: The verdict of a model that declares no intended input.
UNCHECKED = Scope(inside=True, checked=False, message=UNCHECKED_MESSAGE)


@dataclass(frozen=True, kw_only=True)
class ResultBase:
    """What every result carries: which image, which model and engine, how fast.

    Attributes
    ----------
    file : str
        The analysed file.
    frame : int
        1-based frame number within the file.
    sop_instance_uid : str or None
        SOP Instance UID of a DICOM file; None for plain images.
    model, version : str
        Model name and version from its manifest.
    weights_sha256 : str
        SHA-256 of the weights file (empty if the manifest records none).
    engine : str
        ``"torch"``, ``"onnxruntime"`` or ``"openvino"``.
    device : str
        ``"cpu"`` or ``"cuda"``.
    precision : str
        E.g. ``"fp32"``, ``"bf16"``, ``"int8"``.
    ms : float
        Wall time of the whole analysis: preprocessing, network and postprocessing.
    ms_inference : float
        The network alone.
    scope : Scope
        Whether the image is inside the model's declared input, and whether the
        user ran it anyway (:mod:`medview.inference.scope`).
    familiarity : Familiarity or None
        How like the model's training images the image is; None when the model
        carries no reference (:mod:`medview.inference.familiarity`).
    """

    file: str
    frame: int
    sop_instance_uid: str | None
    model: str
    version: str
    weights_sha256: str
    engine: str
    device: str
    precision: str
    ms: float
    ms_inference: float
    scope: Scope = UNCHECKED
    familiarity: Familiarity | None = None

    def _common_json(self) -> dict[str, Any]:
        return {"file": self.file, "frame": self.frame,
                "sop_instance_uid": self.sop_instance_uid, "model": self.model,
                "version": self.version, "engine": self.engine, "device": self.device,
                "precision": self.precision, "ms": _finite(self.ms, 2),
                "ms_inference": _finite(self.ms_inference, 2), "scope": self.scope.to_json(),
                "familiarity": self.familiarity.to_json() if self.familiarity else None}


@dataclass(frozen=True, kw_only=True)
class ClassificationResult(ResultBase):
    """Class probabilities of one image and the decision the thresholds give.

    Attributes
    ----------
    probabilities : dict of str to float
        Per class, in manifest order (softmax: they sum to 1).
    label : str or None
        The decision (see :func:`medview.inference.analyze.classification_fields`):
        the most probable class at or above its threshold; for softmax models
        with no such finding, the most probable class without a threshold.
    positives : tuple of str
        Every class at or above its threshold, most probable first (softmax:
        only classes the manifest gives a threshold).
    """

    probabilities: dict[str, float]
    label: str | None
    positives: tuple[str, ...] = ()
    task: str = field(default="classification", init=False)

    def to_json(self) -> dict[str, Any]:
        """One JSON-ready dict (the CLI prints it as a line); non-finite numbers are None."""
        return {**self._common_json(), "task": self.task, "label": self.label,
                "probabilities": _rounded(self.probabilities),
                "positives": list(self.positives)}


@dataclass(frozen=True, kw_only=True)
class SegmentationResult(ResultBase):
    """A label mask at the frame's size, and the area of each class.

    Attributes
    ----------
    mask : numpy.ndarray
        uint8 (rows, cols) at the frame's size; value 0 is background and value
        ``v`` is the class ``mask_values[v]``.
    mask_values : dict of int to str
        Mask value → class name, for every foreground class.
    areas : dict of str to Measurement
        Per foreground class: mm² when the frame is calibrated, else px² (the
        unit and spacing source say which).
    probabilities : dict of str to float
        Per foreground class, the highest pixel probability in the image.
    label : str or None
        The foreground class with the largest area; None for an empty mask.
    mask_file : str or None
        Where the mask was saved as PNG, once it has been.
    """

    mask: np.ndarray = field(repr=False)
    mask_values: dict[int, str]
    areas: dict[str, Measurement]
    probabilities: dict[str, float]
    label: str | None
    mask_file: str | None = None
    task: str = field(default="segmentation", init=False)

    def to_json(self) -> dict[str, Any]:
        """One JSON-ready dict without pixel data (the mask is referenced by file)."""
        return {**self._common_json(), "task": self.task, "label": self.label,
                "probabilities": _rounded(self.probabilities), "mask": self.mask_file,
                "mask_values": {str(v): name for v, name in self.mask_values.items()},
                "areas": {name: {"value": _finite(m.value, 3), "unit": m.unit, "source": m.source}
                          for name, m in self.areas.items()}}


AnalysisResult = ClassificationResult | SegmentationResult


def _rounded(probabilities: dict[str, float]) -> dict[str, float | None]:
    return {k: _finite(v, 6) for k, v in probabilities.items()}


def _finite(value: float, digits: int) -> float | None:
    """``value`` rounded, or None when it is NaN or infinite (JSON has no NaN)."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None
