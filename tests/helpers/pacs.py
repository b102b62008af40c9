"""What the PACS tests share: markers for a missing Orthanc, a generated study, and
medview's nodes file pointing at a test's Orthanc (:mod:`tests.helpers.orthanc`)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from medview.pacs.nodes import LocalAE, Node, PacsConfig, save_config
from tests.helpers.datafiles import find
from tests.helpers.orthanc import DICOMWEB_PLUGIN, ORTHANC, Orthanc

REAL_FILES = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm")
needs_orthanc = pytest.mark.skipif(ORTHANC is None, reason="Orthanc is not installed "
                                   "(Debian package 'orthanc'; .ci/run installs it)")
needs_dicomweb = pytest.mark.skipif(DICOMWEB_PLUGIN is None, reason="Orthanc's DICOMweb plugin "
                                    "is not installed (Debian package 'orthanc-dicomweb')")
MEDVIEW_AET = "MEDVIEW"


def make_study(folder: Path, n: int = 6, patient_id: str = "MV-PACS-1") -> list[Path]:
    """``n`` CT images (copies of pydicom's CT_small.dcm) in one new study, two series."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), (generate_uid(), generate_uid())
    paths = []
    for i in range(n):
        ds = pydicom.dcmread(find("CT_small.dcm"))
        ds.PatientID, ds.PatientName = patient_id, "Resume^Test"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series[i % 2]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = i + 1
        paths.append(folder / f"ct{i}.dcm")
        ds.save_as(paths[-1])
    return paths


def configure_nodes(server: Orthanc, **local) -> PacsConfig:
    """Write the nodes file (in MEDVIEW_USER_DIR): 'orthanc' (DIMSE), 'web' (DICOMweb)."""
    config = PacsConfig(local=LocalAE(MEDVIEW_AET, server.medview_port, **local),
                        nodes={"orthanc": Node("orthanc", "ORTHANC", "127.0.0.1",
                                               server.dicom_port, timeout_s=10),
                               "web": Node("web", url=server.url + "/dicom-web",
                                           timeout_s=10)})
    save_config(config)
    return config
