"""The PACS panel's Send AI result against the real Orthanc: the SEG and a burned-in capture of
the image shown go to the node, are listed in the audit log and read back from Orthanc."""

from __future__ import annotations

import pydicom

from medview.inference.audit import AuditLog
from medview.analysis.sc_dicom import DEMO_TEXT
from medview.pacs import client
from medview.pacs.nodes import load_config
from tests.helpers.datafiles import find
from tests.helpers.pacs import configure_nodes, needs_orthanc
from tests.helpers.qt_analysis import analyze, open_and_show, select_model

pytestmark = needs_orthanc


def test_send_the_shown_result_with_its_capture(installed, orthanc, window, qtbot, tmp_path):
    configure_nodes(orthanc)
    panel = window.pacs
    panel.reload_nodes()
    panel.nodes.setCurrentText("orthanc")
    panel.send_button.click()
    assert panel.status.text().startswith("No AI result for the image shown")

    ct = find("CT_small.dcm")
    open_and_show(qtbot, window, [ct])
    select_model(window.analysis, "prostate-demo")
    analyze(qtbot, window.analysis)
    panel.capture_check.setChecked(True)
    panel.send_button.click()
    qtbot.waitUntil(lambda: panel.send_button.isEnabled(), timeout=60000)
    assert panel.status.text() == "Sent SEG, secondary capture to orthanc"

    sent = [e for e in AuditLog().read() if e.get("event") == "pacs-send"]
    assert [(e["node"], e["result"]) for e in sent] == [("orthanc", "stored")] * 2
    assert {e["file"].rsplit("-", 1)[-1] for e in sent} == {"seg.dcm", "sc.dcm"}
    config = load_config()
    source = pydicom.dcmread(ct, stop_before_pixels=True)
    back = client.retrieve(config.node("orthanc"), config.local, source.StudyInstanceUID,
                           tmp_path / "back")
    got = {ds.Modality: ds for ds in map(pydicom.dcmread, back.folder.rglob("*.dcm"))}
    assert set(got) == {"CT", "SEG", "OT"}  # the SC's modality is "other"
    assert {str(got["SEG"].SOPInstanceUID), str(got["OT"].SOPInstanceUID)} == {
        e["sop_instance_uid"] for e in sent}
    assert got["OT"].ImageComments.startswith(DEMO_TEXT)
