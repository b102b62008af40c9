"""What a search asks for and what a result says, the same for DIMSE and DICOMweb."""

from __future__ import annotations

import re
from dataclasses import dataclass

from medview.pacs.errors import NodeConfigError

# Attributes a study result carries (C-FIND return keys, QIDO includefield).
STUDY_KEYS = ("StudyInstanceUID", "PatientID", "PatientName", "PatientBirthDate", "StudyDate",
              "StudyTime", "AccessionNumber", "ModalitiesInStudy", "StudyDescription",
              "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
SERIES_KEYS = ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
               "NumberOfSeriesRelatedInstances")
INSTANCE_KEYS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber")

_DATE = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class StudyQuery:
    """A study search; empty fields match everything.

    ``patient_name`` may use DICOM wildcards (``*``, ``?``); dates are ``YYYYMMDD`` and
    bound the study date inclusively (either bound may be left open).
    """

    patient_id: str = ""
    patient_name: str = ""
    modality: str = ""
    accession: str = ""
    date_from: str = ""
    date_to: str = ""
    study_uid: str = ""

    def matching_keys(self, node: str) -> dict[str, str]:
        """Keyword → matching value of the fields given (PS3.4 C.2.2.2)."""
        for label, value in (("from", self.date_from), ("to", self.date_to)):
            if value and not _DATE.match(value):
                raise NodeConfigError(node, f"date {label} {value!r} is not YYYYMMDD")
        keys = {"PatientID": self.patient_id, "PatientName": self.patient_name,
                "ModalitiesInStudy": self.modality, "AccessionNumber": self.accession,
                "StudyInstanceUID": self.study_uid}
        if self.date_from or self.date_to:
            keys["StudyDate"] = (self.date_from if self.date_from == self.date_to
                                 else f"{self.date_from}-{self.date_to}")
        return {k: v for k, v in keys.items() if v}


def summary(ds, keys: tuple[str, ...]) -> dict[str, object]:
    """Plain JSON-able values of ``keys`` in a pydicom data set (absent keys left out)."""
    out: dict[str, object] = {}
    for key in keys:
        value = ds.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            out[key] = [str(v) for v in value]
        elif isinstance(value, int):
            out[key] = int(value)
        elif isinstance(value, float):
            out[key] = float(value)
        else:
            out[key] = str(value)
    return out
