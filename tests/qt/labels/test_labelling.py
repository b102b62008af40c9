"""Labelling in the viewer, driven by real key presses on demo DICOM/PNG studies: keys 1–9
label the image on screen and go to the next unlabelled one; the labels are on disk with
who and which image; the project's export trains a classifier."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from medview.labels.exchange import export_labels, import_csv
from medview.labels.heldout import is_held_out
from medview.labels.labelling import Labeller
from medview.labels.project import Project
from medview.labels.store import LabelStore
from tests.helpers.qt import main_window

KEYS = {"normal": Qt.Key.Key_1, "lesion": Qt.Key.Key_2}


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """The demo data set: 8 images per class (DICOM and PNG) of synthetic patients."""
    from medview.demo.demo_data import write_demo_data

    out = tmp_path_factory.mktemp("cases") / "demo"
    write_demo_data(out, n=8, size=64, seed=4)
    return out


def _open(qtbot, win, project: Project):
    ctl = win.labelling
    ctl.open_project(project.path)
    qtbot.waitUntil(lambda: ctl.model.labeller is not None and not win.is_loading
                    and len(win.library.frames()) == len(ctl.model.labeller.images), timeout=20000)
    qtbot.waitUntil(lambda: ctl.model.current is not None, timeout=10000)
    return ctl


def test_ten_images_labelled_by_keys_are_saved_and_the_export_trains(qtbot, settings, cases,
                                                                     tmp_path, isolated):
    project = Project.create(tmp_path / "chest.mvlabels.json", "classification",
                             ["normal", "lesion"], [cases / "classification"], tmp_path / "labels")
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, project)
        assert ctl.dock.isVisible() and ctl.panel.class_buttons[1].text() == "2  lesion"
        assert [a.shortcut().toString() for a in win.viewer_actions.presets] == [""] * 9
        given = {}
        for _ in range(10):
            image = ctl.model.current
            truth = image.path.parent.name
            assert ctl.model.label_of(image) == ""  # keys lead from unlabelled to unlabelled
            qtbot.keyClick(win.grid.active, KEYS[truth])
            given[image.id] = truth
            qtbot.waitUntil(lambda im=image: ctl.model.current not in (None, im), timeout=5000)
            frame = win.grid.active.model.frame  # the viewer shows what the model says
            assert ctl.model.labeller.images.find(frame.path, frame.index) == ctl.model.current
        assert "10/16 labelled" in ctl.panel.counts.text()
        qtbot.keyClick(win.grid.active, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
        assert ctl.model.label_of() == ""
        assert [a.isVisible() for a in ctl.series_classes] == [True, True] + [False] * 7
        ctl.train.trigger()  # export, then the Trainer tab's new job on the export
        export = project.label_dir / "exports" / ctl.model.labeller.store.writer / "labels.csv"
        qtbot.waitUntil(lambda: win.trainer_tab is not None and win.tabs.currentWidget()
                        is win.trainer_tab and win.trainer_tab.tab is not None
                        and win.trainer_tab.tab.dataset_page.path == export, timeout=20000)
        held = [i for i in given if is_held_out(ctl.model.labeller.images.get(i))]
        # the project's held-out patients stay out of training, to compare models on
        assert len(export.read_text().splitlines()) == 1 + 10 - len(held)
        ctl.close_project()
        assert win.viewer_actions.presets[0].shortcut().toString() == "1"  # keys given back

    stored = LabelStore(project.label_dir)
    assert {i: label.value for i, label in stored.labels.items()} == given
    assert {label.who for label in stored.labels.values()} == {getpass.getuser()}
    dicom = [label for label in stored.labels.values() if label.path.endswith(".dcm")]
    assert dicom and all(label.sop_instance_uid and label.patient_id for label in dicom)

    labeller = Labeller.open(project.path)
    import_csv(labeller, cases / "labels.csv")  # the other six images, from the demo's CSV
    export = export_labels(labeller, tmp_path / "export")
    assert export.count == 16
    # PNG files carry no patient ID: those labelled by key train as their own groups
    _train(export.path, tmp_path, without_patient=len(stored.labels) - len(dicom))


def _train(labels_csv: Path, tmp_path: Path, without_patient: int) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from tests.helpers.trainer_jobs import TINY_CLASSIFIER, run_in_process, write_job

    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(labels_csv))
    code, events, _ = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("error", "log")][-3:]
    started = next(e for e in events if e.type == "job_started")
    assert sum(started.split.values()) == 16
    assert started.dataset["n_without_patient_id"] == without_patient


def test_a_read_only_label_folder_keeps_the_label_pending_until_it_can_be_saved(
        qtbot, settings, cases, tmp_path, monkeypatch):
    project = Project.create(tmp_path / "p.mvlabels.json", "classification", ["normal", "lesion"],
                             [cases / "classification"], tmp_path / "labels")
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, project)
        image = ctl.model.current

        def refuse(*_args, **_kwargs):
            raise OSError(30, "Read-only file system")

        monkeypatch.setattr("medview.core.atomic.tempfile.mkstemp", refuse)
        qtbot.keyClick(win.grid.active, Qt.Key.Key_2)
        assert ctl.model.pending == 1 and ctl.model.label_of(image) == "lesion"
        message = ctl.panel.message.text()
        assert message.startswith(f"{project.label_dir}: cannot save here") and "read-only" in message
        assert "1 not saved yet" in ctl.panel.counts.text()
        monkeypatch.undo()
        ctl.close_project()  # closing saves what is pending
    assert LabelStore(project.label_dir).get(image.id).value == "lesion"


def test_ctrl_number_labels_every_image_of_the_series_on_screen(qtbot, settings, cases, tmp_path):
    project = Project.create(tmp_path / "p.mvlabels.json", "classification", ["normal", "lesion"],
                             [cases / "classification"], tmp_path / "labels")
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, project)
        png = next(s for s in win.library.series() if len(s.frames) > 1)  # a folder of PNGs
        win.grid.show_series(png)
        qtbot.waitUntil(lambda: ctl.model.current is not None
                        and ctl.model.current.path.parent == png.frames[0].path.parent)
        truth = png.frames[0].path.parent.name
        listed = ctl.panel.filter
        listed.setCurrentIndex(listed.findData("labelled"))  # the browser: fully labelled only
        assert all(win.browser.item_for(sid).isHidden() for sid in win.browser.series_ids())
        qtbot.keyClick(win.grid.active, KEYS[truth], Qt.KeyboardModifier.ControlModifier)
        assert [sid for sid in win.browser.series_ids()
                if not win.browser.item_for(sid).isHidden()] == [png.id]
        listed.setCurrentIndex(listed.findData("unlabelled"))
        assert win.browser.item_for(png.id).isHidden()
        ctl.close_project()
        assert not any(win.browser.item_for(sid).isHidden() for sid in win.browser.series_ids())
    stored = LabelStore(project.label_dir).labels.values()
    assert sorted(label.path for label in stored) == sorted(str(f.path) for f in png.frames)
    assert {label.value for label in stored} == {truth}


def test_ctrl_alt_key_labels_every_image_of_the_study_on_screen(qtbot, settings, tmp_path):
    from tests.helpers.series import write_series

    study = tmp_path / "study"
    write_series(study / "a", n=3, study_uid="1.2.826.0.1.3680043.8.498.77")
    write_series(study / "b", n=4, study_uid="1.2.826.0.1.3680043.8.498.77")
    write_series(tmp_path / "other" / "c", n=2)  # another study: left alone
    project = Project.create(tmp_path / "s.mvlabels.json", "classification", ["normal", "lesion"],
                             [study, tmp_path / "other"], tmp_path / "labels")
    with main_window(qtbot, settings) as win:
        win.hanging_action.setChecked(False)  # the series' own slices, not MPR planes
        ctl = _open(qtbot, win, project)
        shown = win.grid.active.model.series
        assert shown.study is not None and len(shown.study.series) == 2
        assert ctl.study_classes[1].shortcut().toString() == "Ctrl+Alt+2"
        qtbot.keyClick(win.grid.active, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier
                      | Qt.KeyboardModifier.AltModifier)
        study_paths = {f.path for s in shown.study.series for f in s.frames}
        labelled = {im.path for im in ctl.model.labeller.images.images
                    if ctl.model.label_of(im)}
        assert labelled == study_paths and len(labelled) == 7
        assert {ctl.model.label_of(im) for im in ctl.model.labeller.images.images
                if im.path in study_paths} == {"lesion"}
