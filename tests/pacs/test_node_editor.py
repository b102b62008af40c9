"""Editing nodes in the GUI (PACS panel ▸ Nodes…) against the real Orthanc: add a DIMSE and a
DICOMweb node, verify each off the GUI thread, edit, remove, set medview's own AE title;
the nodes file is the one the CLI reads."""

from __future__ import annotations

from medview import cli
from medview.pacs.nodes import load_config
from tests.helpers.orthanc import free_port
from tests.helpers.pacs import needs_dicomweb, needs_orthanc

pytestmark = needs_orthanc


def _verify(dialog, qtbot) -> str:
    dialog.verify_button.click()
    assert not dialog.verify_button.isEnabled()  # running in the pool, the GUI goes on
    qtbot.waitUntil(dialog.verify_button.isEnabled, timeout=20000)
    return dialog.status.text()


def test_add_verify_edit_and_remove_a_dimse_node(orthanc, window, qtbot, capsys):
    panel = window.pacs
    panel.reload_nodes()
    dialog = panel.edit_nodes()
    assert dialog.isVisible() and dialog.list.count() == 0
    dialog.name.setText("clinic")
    dialog.ae_title.setText("ORTHANC")
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(orthanc.dicom_port)
    assert _verify(dialog, qtbot).startswith("clinic answered in ")
    dialog.save_button.click()
    assert dialog.status.text() == f"Saved clinic: ORTHANC@127.0.0.1:{orthanc.dicom_port}"
    assert [panel.nodes.itemText(i) for i in range(panel.nodes.count())] == ["clinic"]
    assert cli.main(["pacs", "echo", "clinic"]) == 0  # the CLI reads the same file
    assert "answered in" in capsys.readouterr().out

    dialog.port.setValue(free_port())  # nobody listens there
    assert _verify(dialog, qtbot).startswith("PACS node 'clinic': connection refused")
    dialog.ae_title.setText("BAD\\AE")
    dialog.save_button.click()
    assert "AE title 'BAD\\\\AE' is not 1-16 printable characters" in dialog.status.text()
    assert load_config().node("clinic").port == orthanc.dicom_port  # nothing saved

    dialog.local_ae.setText("MVGUI")
    dialog.local_port.setValue(11999)
    dialog.save_local_button.click()
    assert (load_config().local.ae_title, load_config().local.port) == ("MVGUI", 11999)

    dialog.remove_button.click()
    assert load_config().nodes == {} and dialog.list.count() == 0
    assert panel.nodes.count() == 0 and "Nodes…" in panel.status.text()


@needs_dicomweb
def test_add_and_verify_a_dicomweb_node(orthanc, window, qtbot):
    dialog = window.pacs.edit_nodes()
    dialog.name.setText("web")
    assert dialog.host.isVisibleTo(dialog) and not dialog.url.isVisibleTo(dialog)
    dialog.kind.setCurrentIndex(1)
    assert dialog.url.isVisibleTo(dialog) and not dialog.host.isVisibleTo(dialog)
    dialog.url.setText(orthanc.url + "/dicom-web/")
    assert _verify(dialog, qtbot).startswith("web answered in ")
    dialog.save_button.click()
    node = load_config().node("web")
    assert node.url == orthanc.url + "/dicom-web" and node.is_dicomweb
    dialog.url.setText(f"http://127.0.0.1:{free_port()}/dicom-web")
    assert _verify(dialog, qtbot).startswith("PACS node 'web': ")
