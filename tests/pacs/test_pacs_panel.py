"""The PACS panel in the main window, against the real Orthanc: search, retrieve with
progress, the study opens as it arrives; a node that is down is one line in the panel."""

from __future__ import annotations

import pydicom
import pytest

from tests.helpers.pacs import configure_nodes, needs_orthanc
from tests.helpers.orthanc import free_port

pytestmark = needs_orthanc


def test_search_then_retrieve_opens_the_study_in_the_viewer(orthanc, window, qtbot, tmp_path):
    configure_nodes(orthanc, store_limit_gb=1e-6)  # 1 kB: older studies must make room
    old_study = tmp_path / "user" / "studies" / "1.2.3" / "4.5" / "6.dcm"
    old_study.parent.mkdir(parents=True)
    old_study.write_bytes(b"\0" * 2000)
    window.pacs_dock.show()
    window.pacs_dock.raise_()
    panel = window.pacs
    panel.reload_nodes()
    assert [panel.nodes.itemText(i) for i in range(panel.nodes.count())] == ["orthanc", "web"]
    panel.nodes.setCurrentText("orthanc")
    panel.fields["patient_id"].setText("MV-PACS-1")
    panel.search_button.click()
    qtbot.waitUntil(lambda: panel.results.rowCount() == 1 and panel.search_button.isEnabled(),
                    timeout=20000)
    assert panel.results.item(0, 0).text() == "Resume Test"
    assert panel.results.item(0, 5).text() == "6"
    panel.results.selectRow(0)
    with qtbot.waitSignals([panel.firstImageArrived, panel.studyRetrieved], timeout=30000):
        panel.retrieve_button.click()
    qtbot.waitUntil(lambda: not window.is_loading and len(window.library.frames()) == 6,
                    timeout=30000)
    assert panel.status.text() == ("Retrieved 6 images; 1 older study removed to keep the "
                                   "store under 1e-06 GB")
    assert not old_study.exists()
    shown = window.grid.active.model.series
    assert shown is not None and shown.study.uid == pydicom.dcmread(
        next((tmp_path / "user" / "studies").rglob("*.dcm"))).StudyInstanceUID
    window.grab().save(str(tmp_path.parent / "pacs_panel.png"))


def test_a_node_that_is_down_is_one_line_in_the_panel(window, qtbot, tmp_path):
    from medview.pacs.nodes import Node, add_node

    add_node(Node("down", "X", "127.0.0.1", free_port(), timeout_s=5))
    panel = window.pacs
    panel.reload_nodes()
    panel.search_button.click()
    qtbot.waitUntil(lambda: panel.search_button.isEnabled(), timeout=20000)
    assert panel.status.text().startswith("PACS node 'down': connection refused at 127.0.0.1:")
    assert panel.results.rowCount() == 0


def test_with_no_node_the_panel_says_how_to_add_one(window):
    panel = window.pacs
    panel.reload_nodes()
    assert "medview pacs add" in panel.status.text()
    assert not panel.search_button.isEnabled() and not panel.retrieve_button.isEnabled()


def test_receiving_lists_pushed_studies_and_opens_one(window, qtbot, tmp_path):
    from medview.inference.audit import AuditLog
    from medview.pacs.nodes import LocalAE, Node, set_local
    from medview.pacs.send import send_files
    from tests.helpers.pacs import make_study

    port = free_port()
    set_local("MVRECEIVE", port)
    panel = window.pacs
    panel.reload_nodes()
    panel.receive.setChecked(True)
    assert panel.status.text() == f"Receiving as MVRECEIVE on port {port}"
    files = make_study(tmp_path / "modality", n=2, patient_id="MV-PUSHED")
    outcomes = send_files(Node("medview", "MVRECEIVE", "127.0.0.1", port), LocalAE("CT1", 104),
                          files, audit=AuditLog(tmp_path / "audit.jsonl"))
    assert all(o.sent for o in outcomes)
    qtbot.waitUntil(lambda: panel.incoming.count() == 1
                    and panel.incoming.item(0).text().endswith("2 images"), timeout=10000)
    item = panel.incoming.item(0)
    assert "MV-PUSHED" in item.text()
    with qtbot.waitSignal(panel.studyRetrieved) as opened:
        panel.incoming.itemDoubleClicked.emit(item)
    assert opened.args[0] == tmp_path / "user" / "studies" / pydicom.dcmread(
        files[0]).StudyInstanceUID
    qtbot.waitUntil(lambda: not window.is_loading and len(window.library.frames()) == 2,
                    timeout=20000)
    panel.receive.setChecked(False)
    assert panel.status.text() == "Not receiving"
    from medview.pacs.errors import NodeUnreachable
    with pytest.raises(NodeUnreachable, match="connection refused"):
        send_files(Node("medview", "MVRECEIVE", "127.0.0.1", port, timeout_s=5),
                   LocalAE("CT1", 104), files[:1], audit=AuditLog(tmp_path / "audit.jsonl"))
