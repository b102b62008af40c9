"""What medview's two kinds of SR document share: the images they reference, the
evidence they inherit patient and study from, the device that made them, the file.

highdicom builds every IOD (PS3.3 A.35.13 Comprehensive 3D SR, A.35.4 Key Object
Selection); nothing here writes DICOM attributes by hand beyond filling the empty
Type 2 patient/study attributes highdicom copies from the first referenced image.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medview import __version__
from medview.core.atomic import atomic_path
from medview.core.imports import load
from medview.core.io.dicom import number_of_frames
from medview.core.study import Frame

MANUFACTURER = "medview"
# Copied by highdicom from the first evidence dataset; Type 2 (may be empty) in the SR.
_TYPE2_PATIENT_STUDY = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                        "AccessionNumber", "StudyID", "StudyDate", "StudyTime",
                        "ReferringPhysicianName")
_NEEDED_UIDS = ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")


@dataclass
class Written:
    """What an export wrote.

    Attributes
    ----------
    path : Path
        The DICOM file.
    count : int
        Measurements (or key images) in it.
    notes : list of str
        One line per item left out, and why.
    sop_instance_uid : str
        The document's SOP Instance UID.
    """

    path: Path
    count: int
    notes: list[str] = field(default_factory=list)
    sop_instance_uid: str = ""


def why_not_referenceable(frame: Frame) -> str | None:
    """Why an SR cannot reference ``frame`` (None when it can)."""
    if frame.header is None:
        return f"{frame.label}: not a DICOM image (SR documents reference DICOM images only)"
    missing = [k for k in _NEEDED_UIDS if not str(frame.header.get(k, "") or "").strip()]
    if missing:
        return f"{frame.label}: has no {missing[0]}, so an SR cannot reference it"
    return None


def one_study(frames: Iterable[Frame]) -> str:
    """The StudyInstanceUID shared by ``frames``; ValueError when they span studies."""
    uids = {str(f.header.StudyInstanceUID) for f in frames}
    if len(uids) > 1:
        raise ValueError("the images belong to more than one study: export one study at a time")
    return uids.pop()


def frame_numbers(frame: Frame) -> list[int] | None:
    """Referenced Frame Number (from 1) for a multi-frame image, None for single-frame."""
    return [frame.index + 1] if number_of_frames(frame.header) > 1 else None


def source_image(kind: str, frame: Frame):
    """A highdicom ``SourceImageFor…`` content item (``kind``: ``"Region"``,
    ``"MeasurementGroup"``) referencing ``frame``."""
    hd_sr = load("highdicom").sr
    make = getattr(hd_sr, f"SourceImageFor{kind}")
    return make(referenced_sop_class_uid=str(frame.header.SOPClassUID),
                referenced_sop_instance_uid=str(frame.header.SOPInstanceUID),
                referenced_frame_numbers=frame_numbers(frame))


def evidence(frames: Sequence[Frame]) -> list:
    """One header per referenced instance, first-referenced first, with the empty Type 2
    patient/study attributes highdicom copies into the document filled in."""
    seen: dict[str, object] = {}
    for frame in frames:
        uid = str(frame.header.SOPInstanceUID)
        if uid not in seen:
            ds = copy.deepcopy(frame.header)
            for keyword in _TYPE2_PATIENT_STUDY:
                if keyword not in ds or ds[keyword].value is None:
                    setattr(ds, keyword, "")
            seen[uid] = ds
    return list(seen.values())


def device_observer():
    """The Observer Context of medview as the device that made the document (TID 1002)."""
    hd = load("highdicom")
    uid = load("pydicom.uid").generate_uid(entropy_srcs=["medview device", socket.gethostname()])
    return hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept(value="121007", scheme_designator="DCM",
                                         meaning="Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=uid, name="medview", manufacturer_name=MANUFACTURER,
            model_name=f"medview {__version__}"))


def person_observer(name: str):
    """The Observer Context of the reader, by DICOM person name (``Family^Given``)."""
    hd = load("highdicom")
    return hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept(value="121006", scheme_designator="DCM",
                                         meaning="Person"),
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=name))


def new_uid() -> str:
    return str(load("pydicom.uid").generate_uid())


def save(document, out: Path) -> None:
    """Write ``document`` (a highdicom SOP instance) to ``out`` atomically."""
    with atomic_path(out) as tmp:
        document.save_as(tmp, enforce_file_format=True)


def software_versions() -> str:
    return f"medview {__version__}"
