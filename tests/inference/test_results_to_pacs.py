"""AI results leave as DICOM: ``medview analyze --dicom-out`` writes a segmentation as a SEG
and a classification as a TID 1500 SR, ``medview pacs send`` stores them in a real Orthanc,
and what comes back reads in highdicom with the same mask pixels, probabilities, finding,
algorithm and references as the analysis."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from PIL import Image

from medview import cli
from medview.inference.audit import AuditLog
from medview.pacs import client
from medview.pacs.nodes import load_config
from tests.helpers.datafiles import find
from tests.helpers.pacs import configure_nodes, needs_dicomweb, needs_orthanc
from tests.helpers.orthanc import Orthanc, free_port

pytestmark = [needs_orthanc, needs_dicomweb]


def test_segmentation_goes_to_the_pacs_as_seg_and_reads_back_the_same(installed, tmp_path,
                                                                      capsys):
    highdicom = pytest.importorskip("highdicom")
    ct, mr = find("CT_small.dcm"), find("MR_small.dcm")
    assert cli.main(["analyze", "--model", "prostate-demo", "--engine", "torch", "--out",
                     str(tmp_path / "masks"), "--dicom-out", str(tmp_path / "seg"),
                     str(ct), str(mr)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["dicom"] is not None for line in lines] == [True, True]
    server = Orthanc(tmp_path / "orthanc", "MEDVIEW", free_port()).start()
    try:
        server.upload([ct, mr])
        configure_nodes(server)
        assert cli.main(["pacs", "send", "orthanc", str(tmp_path / "seg")]) == 0
        sent = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [s["result"] for s in sent] == ["stored", "stored"]
        config = load_config()
        for line, source in zip(lines, (ct, mr)):
            source_ds = pydicom.dcmread(source)
            result = client.retrieve(config.node("web"), config.local,
                                     source_ds.StudyInstanceUID, tmp_path / "back")
            assert result.total == 2  # the image and its SEG
            seg_path = next(p for p in result.folder.rglob("*.dcm")
                            if pydicom.dcmread(p).Modality == "SEG")
            seg = highdicom.seg.segread(seg_path)
            assert seg.get_source_image_uids() == [(source_ds.StudyInstanceUID,
                                                    source_ds.SeriesInstanceUID,
                                                    source_ds.SOPInstanceUID)]
            pixels = seg.get_pixels_by_source_instance([source_ds.SOPInstanceUID],
                                                       combine_segments=True)[0]
            mask = np.array(Image.open(line["mask"]))
            assert mask.any() and np.array_equal(pixels, mask)
            algorithm = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
            assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("prostate-demo",
                                                                              "0.1")
        audited = [e for e in AuditLog().read() if e.get("event") == "pacs-send"]
        assert {e["file"] for e in audited} == {line["dicom"] for line in lines}
    finally:
        server.stop()


def _content(items, out=None) -> dict:
    """Meaning → value of the NUM, CODE and IMAGE items of an SR content tree."""
    out = {} if out is None else out
    for item in items:
        name = item.ConceptNameCodeSequence[0].CodeMeaning
        if item.ValueType == "NUM":
            out[name] = float(item.MeasuredValueSequence[0].NumericValue)
        elif item.ValueType == "CODE":
            out[name] = item.ConceptCodeSequence[0].CodeMeaning
        elif item.ValueType == "IMAGE":
            out[name] = item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        elif item.ValueType == "TEXT":
            out.setdefault(name, []).append(item.TextValue) if name == "Algorithm Parameters" \
                else out.__setitem__(name, item.TextValue)
        _content(item.get("ContentSequence", []), out)
    return out


def test_classification_goes_to_the_pacs_as_a_tid1500_sr(installed, tmp_path, capsys):
    highdicom = pytest.importorskip("highdicom")
    ct = find("CT_small.dcm")
    assert cli.main(["analyze", "--model", "chest-demo", "--engine", "torch", "--dicom-out",
                     str(tmp_path / "sr"), str(ct)]) == 0
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    server = Orthanc(tmp_path / "orthanc", "MEDVIEW", free_port()).start()
    try:
        server.upload([ct])
        configure_nodes(server)
        assert cli.main(["pacs", "send", "orthanc", line["dicom"]]) == 0
        config = load_config()
        source = pydicom.dcmread(ct)
        result = client.retrieve(config.node("orthanc"), config.local, source.StudyInstanceUID,
                                 tmp_path / "back")
        sr_path = next(p for p in result.folder.rglob("*.dcm")
                       if pydicom.dcmread(p).Modality == "SR")
        document = highdicom.sr.srread(sr_path)
        content = _content(document.ContentSequence)
        assert content["Finding"] == line["label"]
        for name, p in line["probabilities"].items():
            assert content[f"Probability of {name}"] == pytest.approx(p, abs=1e-4)
        assert content["Source of Measurement"] == source.SOPInstanceUID
        assert content["Device Observer Model Name"] == "chest-demo 1.0.0"
        assert content["Algorithm Name"] == "chest-demo"
        assert content["Algorithm Version"] == "1.0.0"
        assert "scope=unchecked" in content["Algorithm Parameters"]
        assert "engine=torch" in content["Algorithm Parameters"]
    finally:
        server.stop()


def test_a_demo_models_secondary_capture_has_the_mask_and_the_warning_burned_in(
        installed, tmp_path, capsys):
    from medview.analysis.sc_dicom import DEMO_TEXT

    ct = find("CT_small.dcm")
    assert cli.main(["analyze", "--model", "prostate-demo", "--engine", "torch", "--out",
                     str(tmp_path / "masks"), "--dicom-out", str(tmp_path / "dicom"),
                     "--dicom-sc", str(ct)]) == 0
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["dicom_sc"].endswith("_prostate-demo-sc.dcm") and line["dicom"]
    server = Orthanc(tmp_path / "orthanc", "MEDVIEW", free_port()).start()
    try:
        server.upload([ct])
        configure_nodes(server)
        assert cli.main(["pacs", "send", "orthanc", str(tmp_path / "dicom")]) == 0
        audited = {e["file"]: e["result"] for e in AuditLog().read()
                   if e.get("event") == "pacs-send"}
        assert audited == {line["dicom"]: "stored", line["dicom_sc"]: "stored"}
        config = load_config()
        source = pydicom.dcmread(ct)
        back = client.retrieve(config.node("orthanc"), config.local, source.StudyInstanceUID,
                               tmp_path / "back")
        assert back.total == 3  # the image, its SEG and the capture
        sc = next(ds for ds in map(pydicom.dcmread, back.folder.rglob("*.dcm"))
                  if ds.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage)
    finally:
        server.stop()
    assert sc.ImageComments.startswith(DEMO_TEXT) and DEMO_TEXT in sc.SeriesDescription
    assert sc.BurnedInAnnotation == "YES" and sc.StudyInstanceUID == source.StudyInstanceUID
    assert list(sc.PatientOrientation) == ["L", "P"]  # CT_small: rows to the left, columns back
    rgb = sc.pixel_array.astype(int)
    assert rgb.shape == (source.Rows, source.Columns, 3)
    mask = np.array(Image.open(line["mask"]))
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    band = np.zeros(mask.shape, bool)
    band[:16], band[-16:] = True, True  # the text bands at the top and the bottom
    assert mask[~band].any() and not grey[(mask > 0) & ~band].any()
    assert grey[(mask == 0) & ~band].all()
    top = rgb[:16]
    assert ((top[..., 0] > 150) & (top[..., 2] < 80)).sum() > 20  # the yellow warning
