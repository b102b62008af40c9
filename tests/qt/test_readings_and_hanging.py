"""The window keeps measurements and key images with their study, exports them as SR,
and lays studies out by the hanging protocols (real files, offscreen window)."""

from __future__ import annotations

import json

import pytest

from medview.core.annotations import LENGTH, RECT
from medview.core.readings import read_reading_file, reading_path
from medview.core.sr.read import read_document
from medview.view.corners import KEY_IMAGE_TEXT, view_corner_text
from tests.helpers.datafiles import PYDICOM_TEST_DIR
from tests.helpers.qt import wait_loaded
from tests.helpers.study_files import frame_of, one_study
from tests.helpers.volumes import write_ct


@pytest.fixture
def user(window, tmp_path):
    """The window's own user data folder (the ``window`` fixture sets it)."""
    return tmp_path / "user"


def _open(qtbot, win, folder, n_series):
    win.open_paths([folder], remember=False)
    wait_loaded(qtbot, win, n_series)
    qtbot.waitUntil(lambda: not win.is_loading)


def _study(win):
    (study,) = [st for p in win.library.patients for st in p.studies]
    return study


def test_measurements_and_key_images_come_back_after_closing(qtbot, window, user, tmp_path):
    folder = one_study(tmp_path / "study", names=("CT_small.dcm", "MR_small.dcm"))
    _open(qtbot, window, folder, 2)
    study = _study(window)
    ct = frame_of(study, "CT_small.dcm")
    vp = window.grid.active
    window.grid.show_series(ct_series := next(s for s in study.series if s.modality == "CT"), vp)
    assert ct_series.frames[0].key == ct.key
    vp.model.add_annotation(LENGTH, [(10.0, 10.0), (40.0, 50.0)])
    vp.model.add_annotation(RECT, [(20.0, 20.0), (60.0, 70.0)])
    assert vp.model.toggle_key_image() is True
    assert KEY_IMAGE_TEXT in view_corner_text(vp.model).top_right
    path = reading_path(study, user)
    qtbot.waitUntil(path.exists, timeout=5000)  # saved after a short pause
    saved = read_reading_file(path)
    assert [a["kind"] for a in saved["annotations"]] == [LENGTH, RECT]
    assert len(saved["key_images"]) == 1

    # a deletion just before closing is saved too
    vp.model.select(vp.model.current_annotations()[1])
    vp.model.delete_selected()
    window.close_all()
    assert len(window.grid.annotations) == 0 and len(window.grid.key_images) == 0
    assert [a["kind"] for a in read_reading_file(path)["annotations"]] == [LENGTH]

    _open(qtbot, window, folder, 2)
    study = _study(window)
    ct = frame_of(study, "CT_small.dcm")
    assert [a.kind for a in window.grid.annotations.on(ct.key)] == [LENGTH]
    assert ct.key in window.grid.key_images


def test_a_damaged_reading_is_one_line_and_the_study_opens(qtbot, window, user, tmp_path):
    folder = one_study(tmp_path / "study", names=("CT_small.dcm",))
    from medview.core.io.folder import load_paths

    (study,) = load_paths([folder]).patients[0].studies
    path = reading_path(study, user)
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    _open(qtbot, window, folder, 1)
    assert window.grid.active.model.series is not None
    message = window.statusBar().currentMessage()
    assert message.startswith(f"{path}: saved measurements could not be read") and \
        "\n" not in message


def test_export_sr_from_the_window(qtbot, window, user, tmp_path):
    folder = one_study(tmp_path / "study", names=("CT_small.dcm",))
    _open(qtbot, window, folder, 1)
    vp = window.grid.active
    vp.model.add_annotation(LENGTH, [(10.0, 10.0), (40.0, 50.0)])
    vp.model.toggle_key_image()
    out = tmp_path / "out" / "report.dcm"
    window.readings.export_sr(str(out))
    qtbot.waitUntil(lambda: window.readings.last_export is not None, timeout=20000)
    done, notes = window.readings.last_export
    assert notes == [] and len(done) == 2
    doc = read_document(out)
    assert [m.kind for m in doc.measurements] == [LENGTH]
    kos = read_document(out.with_name("report-key-images.dcm"))
    assert [r.sop_instance_uid for r in kos.key_images] == [
        vp.model.frame.header.SOPInstanceUID]
    assert window.export_sr_action in window.menuBar().actions()[0].menu().actions()


def test_studies_open_in_their_hanging_protocol(qtbot, window, user):
    _open(qtbot, window, PYDICOM_TEST_DIR / "dicomdirtests" / "77654033" / "CR1", 1)
    window.grid.set_layout("1x1")
    _open(qtbot, window, PYDICOM_TEST_DIR / "dicomdirtests" / "77654033", 4)
    assert window.last_protocol == "Radiograph: current beside prior"
    assert window.grid.layout_name == "1x2"
    assert [vp.model.series.description for vp in window.grid.viewports] == [
        "Cervical LAT", "Cervical OBLI 1"]
    window.close_all()
    # CT: the volume, not the scout, in three planes
    _open(qtbot, window, PYDICOM_TEST_DIR / "dicomdirtests" / "98892001", 2)
    assert window.last_protocol == "CT volume: axial, coronal, sagittal"
    assert window.grid.layout_name == "1x3"
    assert {vp.model.series.description for vp in window.grid.viewports} == {
        "SmartScore - Gated 0.5 sec"}
    qtbot.waitUntil(lambda: window.mpr.showing and not window.mpr.building, timeout=15000)
    assert [vp.model.planes.name for vp in window.grid.viewports] == [
        "Axial", "Coronal", "Sagittal"]


def test_a_ct_volume_hangs_in_axial_coronal_and_sagittal_planes(qtbot, window, user, tmp_path):
    written = write_ct(tmp_path / "ct", slices=24, size=48)
    _open(qtbot, window, written.folder, 1)
    assert window.last_protocol == "CT volume: axial, coronal, sagittal"
    assert window.grid.layout_name == "1x3"
    qtbot.waitUntil(lambda: window.mpr.showing and not window.mpr.building, timeout=15000)
    views = window.grid.viewports
    assert [vp.model.planes.name for vp in views] == ["Axial", "Coronal", "Sagittal"]
    assert [vp.model.frame.image.kind for vp in views] == ["axial", "coronal", "sagittal"]
    assert views[1].model.frame.shape == (83, 48)    # 57.5 mm head-foot at 0.7 mm
    assert window.mpr.mpr_action.isChecked() and window.grid.layout_name == "1x3"
    # leaving MPR puts back the series' own images in the protocol's layout
    window.mpr.mpr_action.trigger()
    assert window.grid.layout_name == "1x3" and not window.mpr.showing
    assert all(vp.model.planes is None and vp.model.series is views[0].model.series
               for vp in views)


def test_a_user_protocol_file_and_the_switch(qtbot, window, user):
    user.mkdir(parents=True, exist_ok=True)
    (user / "hanging_protocols.json").write_text(json.dumps({
        "format": "medview-hanging-protocols", "version": 1, "protocols": [
            {"name": "C-spine: three views", "match": {"body_part": "CSPINE"},
             "layout": [1, 3], "viewports": [{"series": {}}, {"series": {}}, {"series": {}}]}]}))
    _open(qtbot, window, PYDICOM_TEST_DIR / "dicomdirtests" / "77654033", 4)
    assert window.grid.layout_name == "1x3" and window.last_protocol == "C-spine: three views"
    assert [vp.model.series.description for vp in window.grid.viewports] == [
        "Cervical LAT", "Cervical OBLI 1", "Cervical OBLI 2"]
    window.close_all()
    window.hanging_action.setChecked(False)
    window.grid.set_layout("2x2")
    window.last_protocol = ""
    _open(qtbot, window, PYDICOM_TEST_DIR / "dicomdirtests" / "77654033", 4)
    assert window.grid.layout_name == "2x2" and window.last_protocol == ""
    assert window.settings.value("viewer/hanging_protocols") is False
