"""Turning one received C-STORE into a file, for the listener and for C-GET alike.

A malformed object is answered with a failure status and never written; the association
and the receiver carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from medview.pacs.storage import valid_uid, write_instance

# C-STORE statuses, PS3.4 Annex B.2.3
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000


def store_event(event, root: Path, on_stored: Callable[[Path], None] | None = None) -> int:
    """Write the object of a pynetdicom ``EVT_C_STORE`` event under ``root``; its status.

    The bytes are written as received (no decode and re-encode); the data set is read
    only for the study and series UIDs that place the file.
    """
    try:
        ds = event.dataset
        uids = (valid_uid(ds.get("StudyInstanceUID")), valid_uid(ds.get("SeriesInstanceUID")),
                valid_uid(ds.get("SOPInstanceUID")))
        data = event.encoded_dataset(include_meta=True)
    except Exception:  # noqa: BLE001 - any decode failure is the sender's malformed object
        return CANNOT_UNDERSTAND
    if None in uids or uids[2] != valid_uid(event.request.AffectedSOPInstanceUID):
        return DATA_SET_DOES_NOT_MATCH
    try:
        path = write_instance(root, *uids, data)
    except OSError:
        return OUT_OF_RESOURCES
    if on_stored is not None:
        on_stored(path)
    return SUCCESS
