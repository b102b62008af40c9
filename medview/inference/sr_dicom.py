"""A classification result as a DICOM Comprehensive 3D SR Measurement Report (TID 1500).

One measurement group over the analysed image: the decision as a Finding (qualitative
evaluation), each class probability as a measurement (unit "no units"), and the model as
the algorithm (TID 4019: name, version, family "Artificial Intelligence", and engine,
weights checksum and the scope verdict as parameters) and as the device observer. The SEG
of a segmentation result is :mod:`.seg_dicom`'s.
"""

from __future__ import annotations

from pathlib import Path

from medview.core.imports import load
from medview.core.sr import concepts, documents
from medview.core.study import Frame
from medview.inference.results import ClassificationResult, ResultBase

SR_SERIES_NUMBER = 9200
_SCHEME = concepts.PRIVATE_SCHEME  # the model's class names have no standard codes


def algorithm_parameters(result: ResultBase) -> dict[str, str]:
    """What the algorithm identification records besides name and version."""
    scope = ("unchecked" if not result.scope.checked
             else "inside" if result.scope.inside
             else "outside, run anyway" if result.scope.overridden else "outside")
    return {"engine": result.engine, "weights_sha256": result.weights_sha256 or "",
            "scope": scope}


def write_classification_sr(result: ClassificationResult, frame: Frame, out: str | Path) -> str:
    """Write ``result`` as a TID 1500 SR referencing ``frame``; its SOP Instance UID.

    Raises ValueError when ``frame`` cannot be referenced (not DICOM, missing UIDs).
    """
    reason = documents.why_not_referenceable(frame)
    if reason:
        raise ValueError(reason)
    hd = load("highdicom")
    codes = load("pydicom.sr.codedict").codes
    algorithm = hd.sr.AlgorithmIdentification(
        name=result.model, version=result.version,
        family=codes.cid7162.ArtificialIntelligence,
        parameters=[f"{k}={v}" for k, v in algorithm_parameters(result).items()])
    measurements = [hd.sr.Measurement(
        name=_class_code(hd, f"P {name}", f"Probability of {name}"), value=float(p),
        unit=codes.UCUM.NoUnits, algorithm_id=algorithm)
        for name, p in result.probabilities.items()]
    findings = ([hd.sr.QualitativeEvaluation(name=codes.DCM.Finding,
                                             value=_class_code(hd, result.label, result.label))]
                if result.label else None)
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=documents.new_uid(),
                                                     identifier=f"{result.model} result"),
        algorithm_id=algorithm, measurements=measurements, qualitative_evaluations=findings,
        source_images=[documents.source_image("MeasurementGroup", frame)])
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=documents.new_uid(), name=result.model[:64],
            manufacturer_name=documents.MANUFACTURER,
            model_name=f"{result.model} {result.version}"[:64]))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=concepts.coded(concepts.IMAGING_PROCEDURE),
        imaging_measurements=[group])
    sop_uid = documents.new_uid()
    document = hd.sr.Comprehensive3DSR(
        evidence=documents.evidence([frame]), content=report[0],
        series_instance_uid=documents.new_uid(), series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid, instance_number=1, manufacturer=documents.MANUFACTURER,
        series_description=f"AI {result.model} {result.version}"[:64],
        software_versions=documents.software_versions(),
        coding_schemes=[concepts.coding_scheme()])
    documents.save(document, Path(out))
    return sop_uid


def _class_code(hd, value: str, meaning: str):
    """A class name as a code of medview's private scheme (SH value: 16 characters)."""
    return hd.sr.CodedConcept(value=value[:16], scheme_designator=_SCHEME, meaning=meaning[:64])
