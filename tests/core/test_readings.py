"""Measurements and key images saved with the study in the user folder, and back.

Real files (pydicom's CT_small and MR_small, pydicom-data's 10-frame emri_small) are
copied into one study, measured, saved, then reopened from another folder; a damaged
or newer file never blocks the study; what the file holds on images that are not open,
and kinds this version does not know, survive a save.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pydicom
import pytest
from PIL import Image

from medview.core.annotations import ANGLE, ELLIPSE, LENGTH, RECT, Annotation, AnnotationStore
from medview.core.key_images import KeyImages
from medview.core.readings import (FORMAT, load_reading, read_reading_file, reading_path,
                                   save_reading, study_key)
from tests.helpers.study_files import STUDY_UID
from tests.helpers.study_files import frame_of as _frame
from tests.helpers.study_files import one_study as _one_study
from tests.helpers.study_files import open_study as _open

def _measured(study) -> tuple[AnnotationStore, KeyImages, dict]:
    store, keys = AnnotationStore(), KeyImages()
    made = {
        ("CT_small.dcm", 0): [Annotation(LENGTH, [(10.25, 20.5), (90.0, 100.75)]),
                              Annotation(RECT, [(30.0, 30.0), (60.5, 70.0)])],
        ("MR_small.dcm", 0): [Annotation(ANGLE, [(5.0, 5.0), (30.0, 30.0), (5.0, 55.0)])],
        ("emri_small.dcm", 7): [Annotation(ELLIPSE, [(12.0, 14.0), (40.0, 50.0)])],
    }
    for (name, index), items in made.items():
        for a in items:
            store.add(_frame(study, name, index).key, a)
    keys.mark(_frame(study, "emri_small.dcm", 7).key)
    keys.mark(_frame(study, "CT_small.dcm").key)
    return store, keys, made


def _contents(store: AnnotationStore, study) -> dict:
    by_name = {}
    for key, items in store.items():
        f = next(fr for s in study.series for fr in s.frames if fr.key == key)
        by_name[(f.path.name, f.index)] = sorted((a.kind, a.points) for a in items)
    return by_name


def test_a_reading_comes_back_when_the_study_is_reopened_from_another_folder(tmp_path):
    study = _open(_one_study(tmp_path / "a"))
    store, keys, made = _measured(study)
    path = save_reading(study, store, keys, root=tmp_path / "user")
    assert path == tmp_path / "user" / "readings" / f"{STUDY_UID}.json"
    data = read_reading_file(path)
    assert data["format"] == FORMAT and data["version"] == 1 and data["study_uid"] == STUDY_UID
    assert len(data["annotations"]) == 4 and len(data["key_images"]) == 2
    # multi-frame: frame 8 of emri_small is named by its SOP instance and index 7
    emri = pydicom.dcmread(tmp_path / "a" / "emri_small.dcm", stop_before_pixels=True)
    assert {"sop_instance_uid": emri.SOPInstanceUID, "frame": 7}.items() <= \
        data["key_images"][0].items()

    moved = tmp_path / "b"
    shutil.move(tmp_path / "a", moved)
    again = _open(moved)
    store2, keys2 = AnnotationStore(), KeyImages()
    loaded = load_reading(again, store2, keys2, root=tmp_path / "user")
    assert (loaded.annotations, loaded.key_images, loaded.notes) == (4, 2, [])
    expected = {k: sorted((a.kind, a.points) for a in v) for k, v in made.items()}
    assert _contents(store2, again) == expected
    assert list(keys2) == [_frame(again, "emri_small.dcm", 7).key,
                           _frame(again, "CT_small.dcm").key]
    # the values are measured again on the reopened images
    ct = _frame(again, "CT_small.dcm")
    length = store2.on(ct.key)[0]
    assert length.result(ct).unit == "mm"
    assert length.result(ct).value == pytest.approx(
        store.on(_frame(study, "CT_small.dcm").key)[0].result(_frame(study, "CT_small.dcm")).value)
    # loading again adds nothing twice (the study opened a second time)
    assert load_reading(again, store2, keys2, root=tmp_path / "user").annotations == 0
    assert len(store2) == 4 and len(keys2) == 2


def test_saving_keeps_what_is_saved_on_images_not_open_now(tmp_path):
    study = _open(_one_study(tmp_path / "a"))
    store, keys, _ = _measured(study)
    save_reading(study, store, keys, root=tmp_path / "user")
    # Open only the CT file of the study; delete its length, add one, save.
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(tmp_path / "a" / "CT_small.dcm", part)
    ct_only = _open(part)
    store2, keys2 = AnnotationStore(), KeyImages()
    assert load_reading(ct_only, store2, keys2, root=tmp_path / "user").annotations == 2
    ct = _frame(ct_only, "CT_small.dcm")
    length = next(a for a in store2.on(ct.key) if a.kind == LENGTH)
    store2.remove(ct.key, length)
    store2.add(ct.key, Annotation(LENGTH, [(1.0, 1.0), (2.0, 9.0)]))
    keys2.unmark(ct.key)
    save_reading(ct_only, store2, keys2, root=tmp_path / "user")

    whole = _open(tmp_path / "a")
    store3, keys3 = AnnotationStore(), KeyImages()
    load_reading(whole, store3, keys3, root=tmp_path / "user")
    got = _contents(store3, whole)
    assert got[("CT_small.dcm", 0)] == sorted([(RECT, [(30.0, 30.0), (60.5, 70.0)]),
                                                (LENGTH, [(1.0, 1.0), (2.0, 9.0)])])
    assert ("MR_small.dcm", 0) in got and ("emri_small.dcm", 7) in got
    assert list(keys3) == [_frame(whole, "emri_small.dcm", 7).key]


def test_deleting_every_measurement_is_saved_too(tmp_path):
    study = _open(_one_study(tmp_path / "a", names=("CT_small.dcm",)))
    store, keys = AnnotationStore(), KeyImages()
    assert save_reading(study, store, keys, root=tmp_path / "user") is None  # nothing, no file
    ct = _frame(study, "CT_small.dcm")
    store.add(ct.key, Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)]))
    store.add(ct.key, Annotation(LENGTH, [(3.0, 1.0)]))  # being drawn: not saved
    path = save_reading(study, store, keys, root=tmp_path / "user")
    assert len(read_reading_file(path)["annotations"]) == 1
    store.clear()
    save_reading(study, store, keys, root=tmp_path / "user")
    assert read_reading_file(path)["annotations"] == []


@pytest.mark.parametrize("content, reason", [
    (b"{\"format\": \"medview-reading\", \"version\": 1, \"annot",
     "not valid JSON at line 1, column 45"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
    (b"[1, 2]", "not a medview reading"),
    (b"{\"format\": \"medview-reading\", \"version\": 7}",
     "written by a newer medview (format version 7)"),
    (b"{\"format\": \"medview-reading\", \"version\": 1, \"annotations\": 3}",
     "'annotations' is not a list"),
])
def test_a_damaged_reading_is_reported_in_one_line_and_set_aside(tmp_path, content, reason):
    study = _open(_one_study(tmp_path / "a", names=("CT_small.dcm",)))
    path = reading_path(study, tmp_path / "user")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    store, keys = AnnotationStore(), KeyImages()
    loaded = load_reading(study, store, keys, root=tmp_path / "user")
    assert (loaded.annotations, len(store)) == (0, 0)
    (note,) = loaded.notes
    assert "\n" not in note and note.startswith(str(path))
    assert "could not be read" in note and "kept as" in note
    assert f"({reason}" in note, note
    assert path.with_name(path.name + ".unread").read_bytes() == content
    # the next save writes a good file; the damaged one stays aside
    store.add(_frame(study, "CT_small.dcm").key, Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)]))
    save_reading(study, store, keys, root=tmp_path / "user")
    assert len(read_reading_file(path)["annotations"]) == 1


def test_damaged_entries_are_skipped_and_counted(tmp_path):
    study = _open(_one_study(tmp_path / "a", names=("CT_small.dcm",)))
    ct = _frame(study, "CT_small.dcm")
    sop = ct.header.SOPInstanceUID
    good = {"image": {"sop_instance_uid": sop, "frame": 0}, "kind": LENGTH,
            "points": [[1, 2], [3, 4]]}
    entries = [good,
               {"image": {"sop_instance_uid": sop, "frame": 0}, "kind": LENGTH,
                "points": [[1, "x"], [3, 4]]},
               {"image": {"frame": -1}, "kind": LENGTH, "points": [[1, 2], [3, 4]]},
               {"image": {"sop_instance_uid": sop, "frame": 0}, "kind": ANGLE,
                "points": [[1, 2], [3, 4]]},
               "length"]
    path = reading_path(study, tmp_path / "user")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": FORMAT, "version": 1, "annotations": entries,
                                "key_images": [{"frame": 0}]}))
    store, keys = AnnotationStore(), KeyImages()
    loaded = load_reading(study, store, keys, root=tmp_path / "user")
    assert loaded.annotations == 1 and [a.points for a in store.on(ct.key)] == [[(1.0, 2.0),
                                                                               (3.0, 4.0)]]
    assert loaded.notes == [f"{path}: 5 damaged saved entries skipped"]


def test_kinds_this_version_does_not_know_survive_a_save(tmp_path):
    study = _open(_one_study(tmp_path / "a", names=("CT_small.dcm",)))
    ct = _frame(study, "CT_small.dcm")
    future = {"image": {"sop_instance_uid": ct.header.SOPInstanceUID, "frame": 0},
              "kind": "spline", "points": [[1, 2], [3, 4], [5, 6]], "tension": 0.5}
    path = reading_path(study, tmp_path / "user")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": FORMAT, "version": 1, "annotations": [future]}))
    store, keys = AnnotationStore(), KeyImages()
    assert load_reading(study, store, keys, root=tmp_path / "user").annotations == 0
    store.add(ct.key, Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)]))
    save_reading(study, store, keys, root=tmp_path / "user")
    saved = read_reading_file(path)["annotations"]
    assert future in saved and len(saved) == 2


def test_plain_images_are_keyed_by_their_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((32, 48), 100, np.uint8)).save(folder / name)
    study = _open(folder)
    key = study_key(study)
    assert key.startswith("images-") and len(key) == len("images-") + 24
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    assert study_key(_open(other)) != key  # another folder, another reading
    store, keys = AnnotationStore(), KeyImages()
    b = _frame(study, "b.png")
    store.add(b.key, Annotation(LENGTH, [(1.0, 1.0), (10.0, 1.0)]))
    keys.mark(b.key)
    save_reading(study, store, keys, root=tmp_path / "user")
    store2, keys2 = AnnotationStore(), KeyImages()
    again = _open(folder)
    loaded = load_reading(again, store2, keys2, root=tmp_path / "user")
    assert (loaded.annotations, loaded.key_images) == (1, 1)
    b2 = _frame(again, "b.png")
    assert store2.on(b2.key)[0].result(b2).unit == "px" and b2.key in keys2


def test_the_user_folder_is_the_default_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVIEW_USER_DIR", str(tmp_path / "me"))
    study = _open(_one_study(tmp_path / "a", names=("CT_small.dcm",)))
    assert reading_path(study) == tmp_path / "me" / "readings" / f"{STUDY_UID}.json"


def test_the_keeper_saves_before_it_loads_and_forgets_on_close(tmp_path):
    from medview.app.readings import ReadingKeeper

    study = _open(_one_study(tmp_path / "a", names=("CT_small.dcm",)))
    store, keys = AnnotationStore(), KeyImages()
    keeper = ReadingKeeper(store, keys, root=tmp_path / "user")
    ct = _frame(study, "CT_small.dcm")
    a = Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)])
    store.add(ct.key, a)
    keeper.changed(study)
    assert keeper.unsaved and keeper.flush() == [] and not keeper.unsaved
    store.remove(ct.key, a)       # deleted, not saved yet ...
    keeper.changed(study)
    assert keeper.opened([study]) == []  # ... more images arrive: saved first, not read back
    assert len(store) == 0 and read_reading_file(reading_path(study, tmp_path / "user")) \
        ["annotations"] == []
    store.add(ct.key, a)
    keeper.changed(study)
    keeper.forget()               # closing after a flush: the cleared store is not saved
    store.clear()
    assert keeper.flush() == [] and read_reading_file(
        reading_path(study, tmp_path / "user"))["annotations"] == []


def test_a_reading_that_cannot_be_written_is_one_line_and_kept_for_later(tmp_path):
    from medview.app.readings import ReadingKeeper

    study = _open(_one_study(tmp_path / "a", names=("CT_small.dcm",)))
    blocked = tmp_path / "user"
    blocked.write_text("a file where the folder should be")
    store, keys = AnnotationStore(), KeyImages()
    keeper = ReadingKeeper(store, keys, root=blocked)
    store.add(_frame(study, "CT_small.dcm").key, Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)]))
    keeper.changed(study)
    (note,) = keeper.flush()
    assert note.startswith("measurements of ") and "not saved: " in note and "\n" not in note
    assert keeper.unsaved


def test_the_reading_tools_annotations_and_a_user_calibration_come_back(tmp_path):
    """Text, probe, Cobb, polyline, freehand and a calibrated series survive a reopen:
    the calibration line with its typed length, each measurement with the calibration
    it was made with (and so its label)."""
    from medview.core.annotations import CALIBRATION, COBB, FREEHAND, POLYLINE, PROBE, TEXT
    from medview.view.model import ViewModel

    study = _open(_one_study(tmp_path / "a"))
    ct = _frame(study, "CT_small.dcm")
    series = next(s for s in study.series if any(f.key == ct.key for f in s.frames))
    m = ViewModel()
    m.set_canvas(400, 400)
    m.set_series(series, index=[f.key for f in series.frames].index(ct.key))
    made = [m.add_annotation(TEXT, [(5.0, 5.0)], text="fracture"),
            m.add_annotation(PROBE, [(20.0, 30.0)]),
            m.add_annotation(COBB, [(10.0, 10.0), (6.0, 50.0), (40.0, 10.0), (48.0, 50.0)]),
            m.add_annotation(POLYLINE, [(5.0, 5.0), (5.0, 40.0), (30.0, 40.0)]),
            m.add_annotation(FREEHAND, [(10.0, 10.0), (12.0, 40.0), (35.0, 44.0), (40.0, 15.0)])]
    line = m.add_annotation(CALIBRATION, [(60.0, 10.0), (60.0, 50.0)])
    m.set_known_length(line, 20.0)                 # 40 px is 20 mm: 0.5 mm/px
    length = m.add_annotation(LENGTH, [(70.0, 10.0), (70.0, 30.0)])
    assert length.result(ct).value == pytest.approx(10.0)
    assert made[3].calibration == (pytest.approx(0.5), pytest.approx(0.5))
    path = save_reading(study, m.annotations, KeyImages(), root=tmp_path / "user")
    saved = {e["kind"]: e for e in read_reading_file(path)["annotations"]}
    assert saved[TEXT]["text"] == "fracture" and saved[CALIBRATION]["known_mm"] == 20.0
    assert saved[LENGTH]["calibration"] == [pytest.approx(0.5)] * 2

    again = _open(_one_study(tmp_path / "b"))
    store = AnnotationStore()
    assert load_reading(again, store, KeyImages(), root=tmp_path / "user").annotations == 7
    ct2 = _frame(again, "CT_small.dcm")
    back = {a.kind: a for a in store.on(ct2.key)}
    assert back[TEXT].label(ct2) == "fracture"
    assert back[CALIBRATION].known_mm == 20.0
    assert back[CALIBRATION].calibration == (pytest.approx(0.5), pytest.approx(0.5))
    assert back[LENGTH].result(ct2).value == pytest.approx(10.0)
    assert "calibrated by user" in back[LENGTH].label(ct2)
    assert back[FREEHAND].points == made[4].points and len(back[COBB].points) == 4
    assert back[COBB].label(ct2) == made[2].label(ct)
