"""A constructed PET header for the SUV tests."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence


def pet_header(**changes) -> Dataset:
    """The SUV-relevant header of a PET series (F-18, 370 MBq at 10:00, 75 kg, series at
    11:00), with ``changes`` applied: a keyword set to a value, or deleted when None."""
    ds = Dataset()
    ds.Modality, ds.Units, ds.DecayCorrection = "PT", "BQML", "START"
    ds.PatientWeight = "75"
    ds.SeriesDate, ds.SeriesTime = "20240101", "110000"
    ds.AcquisitionDate, ds.AcquisitionTime = "20240101", "110500"
    drug = Dataset()
    drug.RadionuclideTotalDose = "370000000"     # Bq
    drug.RadionuclideHalfLife = "6586.2"         # s (F-18)
    drug.RadiopharmaceuticalStartTime = "100000"
    ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
    for keyword, value in changes.items():
        target = drug if keyword.startswith(("Radionuclide", "RadiopharmaceuticalStart")) else ds
        if value is None:
            delattr(target, keyword)
        else:
            setattr(target, keyword, value)
    return ds
