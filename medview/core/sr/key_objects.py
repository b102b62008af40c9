"""Key images as a DICOM Key Object Selection document (TID 2010, title "Of Interest").

highdicom's ``KeyObjectSelection`` references whole instances; a key frame of a
multi-frame image adds its Referenced Frame Number(s) to the instance's IMAGE item
(PS3.3 C.18.3.1), so one instance with two key frames is referenced once, with both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medview.core.imports import load
from medview.core.sr import concepts, documents
from medview.core.study import Frame

SERIES_NUMBER = 991
SERIES_DESCRIPTION = "medview key images"


def write_key_object_selection(frames: Sequence[Frame], out: str | Path, *,
                               observer: str | None = None, description: str = "",
                               series_description: str = SERIES_DESCRIPTION
                               ) -> documents.Written:
    """Write the key images ``frames`` of one study as a Key Object Selection document.

    Parameters
    ----------
    frames : sequence of Frame
        The key images in the order they were marked; plain images are left out with
        a note.
    out : path
        The DICOM file to write (atomically).
    observer : str, optional
        The reader's name (``Family^Given``), recorded as the person observer.
    description : str
        Key Object Description (free text), left out when empty.

    Returns
    -------
    documents.Written
        Raises ValueError when no key image can be exported or they span studies.
    """
    hd = load("highdicom")
    notes, kept = [], []
    for frame in frames:
        reason = documents.why_not_referenceable(frame)
        if reason is None:
            kept.append(frame)
        else:
            notes.append(reason)
    if not kept:
        raise ValueError("no key image on a DICOM image to export"
                         + (f" ({notes[0]})" if notes else ""))
    documents.one_study(kept)
    instances = documents.evidence(kept)
    content = hd.ko.KeyObjectSelection(
        document_title=concepts.coded(concepts.KEY_OBJECTS_TITLE),
        referenced_objects=instances,
        observer_person_context=documents.person_observer(observer) if observer else None,
        observer_device_context=documents.device_observer(),
        description=description or None)
    _add_frame_numbers(content, kept)
    sop_uid = documents.new_uid()
    document = hd.ko.KeyObjectSelectionDocument(
        evidence=instances, content=content, series_instance_uid=documents.new_uid(),
        series_number=SERIES_NUMBER, sop_instance_uid=sop_uid, instance_number=1,
        manufacturer=documents.MANUFACTURER, series_description=series_description,
        software_versions=documents.software_versions())
    documents.save(document, Path(out))
    return documents.Written(Path(out), len(kept), notes, sop_uid)


def _add_frame_numbers(content, frames: Sequence[Frame]) -> None:
    numbers: dict[str, list[int]] = {}
    for frame in frames:
        for n in documents.frame_numbers(frame) or ():
            numbers.setdefault(str(frame.header.SOPInstanceUID), []).append(n)
    for item in content[0].ContentSequence:
        if item.ValueType != "IMAGE":
            continue
        ref = item.ReferencedSOPSequence[0]
        chosen = numbers.get(str(ref.ReferencedSOPInstanceUID))
        if chosen:
            ref.ReferencedFrameNumber = sorted(set(chosen))
