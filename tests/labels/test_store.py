"""Projects and labels on disk: round trips, two PCs, crashes, full or read-only folders,
labels whose images no longer load."""

from __future__ import annotations

import errno
import json
import os

import pytest

from medview.labels.files import LabelsError, SaveError
from medview.labels.labelling import Labeller
from medview.labels.project import Project
from medview.labels.store import LabelStore


def test_project_file_round_trips_with_portable_paths(project):
    again = Project.load(project.path)
    assert again.classes == ["normal", "lesion"] and again.task == "classification"
    assert again.studies == project.studies and again.label_dir == project.label_dir
    saved = json.loads(project.path.read_text())
    assert saved["studies"] == ["cases"] and saved["label_dir"] == "labels"  # relative: movable


@pytest.mark.parametrize("names, why", [(["a"], "at least 2"), (["a", "a"], "twice"),
                                        (["a", "skip"], "skipped images"), (["a", " b"], "spaces")])
def test_bad_projects_are_refused_with_one_line(tmp_path, names, why):
    with pytest.raises(LabelsError, match=why) as err:
        Project.create(tmp_path / "p.json", "classification", names, [tmp_path], tmp_path / "l")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "p.json").exists()


def test_labels_record_who_when_which_image_and_patient(project):
    labeller = Labeller.open(project.path, user="anna", host="ws1")
    dicom = next(im for im in labeller.images.images if im.sop_instance_uid)
    label = labeller.assign(dicom, "2")
    again = LabelStore(project.label_dir).get(dicom.id)
    assert again == label and again.value == "lesion"
    assert (again.who, again.host, again.frame) == ("anna", "ws1", 0)
    assert again.sop_instance_uid == dicom.sop_instance_uid and again.patient_id.startswith("DEMO-")
    assert again.path == str(dicom.path) and again.when.endswith("+00:00")
    done = labeller.progress()
    assert (done.labelled, done.per_class["lesion"], done.unlabelled) == (1, 1, len(labeller.images) - 1)


def test_two_pcs_writing_one_project_keep_each_others_labels(project):
    anna = Labeller.open(project.path, user="anna", host="ws1")
    ben = Labeller.open(project.path, user="ben", host="ws2")
    first, second, third = anna.images.images[:3]
    anna.assign(first, "normal")
    ben.assign(second, "lesion")  # ben's store had not seen anna's label: nothing is lost
    anna.assign(third, "skip")
    ben.assign(third, "normal")  # the same image, later: the newer label wins on read ...
    merged = LabelStore(project.label_dir, user="carl", host="ws3")
    assert {i: merged.get(im.id).value for i, im in enumerate((first, second, third))} == \
        {0: "normal", 1: "lesion", 2: "normal"}
    assert len(list(project.label_dir.glob(f"{third.id}.*.json"))) == 2  # ... both kept on disk
    done = Labeller(project, anna.images, merged).progress()
    assert (done.labelled, done.skipped) == (3, 0)


def test_a_crash_while_saving_keeps_the_previous_label(project, monkeypatch):
    labeller = Labeller.open(project.path, user="anna", host="ws1")
    image = labeller.images.images[0]
    labeller.assign(image, "normal")

    def crash(*_args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)  # dies between writing the temp file and renaming
    with pytest.raises(SaveError):
        labeller.assign(image, "lesion")
    monkeypatch.undo()
    assert labeller.store.get(image.id).value == "normal"
    assert LabelStore(project.label_dir).get(image.id).value == "normal"
    assert [p.name for p in project.label_dir.iterdir()] == [f"{image.id}.anna@ws1.json"]


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"),
                                         (errno.EROFS, "read-only")])
def test_full_or_read_only_label_folder_is_one_line_naming_it(project, monkeypatch, code, words):
    labeller = Labeller.open(project.path, user="anna", host="ws1")
    image = labeller.images.images[0]

    def refuse(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("medview.core.atomic.tempfile.mkstemp", refuse)
    with pytest.raises(SaveError) as err:
        labeller.assign(image, "lesion")
    assert str(err.value).startswith(f"{project.label_dir}: cannot save here") and words in str(err.value)
    assert "\n" not in str(err.value) and labeller.store.get(image.id) is None


def test_labels_of_images_that_no_longer_load_are_listed_not_dropped(project):
    labeller = Labeller.open(project.path, user="anna", host="ws1")
    broken, gone = [im for im in labeller.images.images if im.sop_instance_uid][:2]
    labeller.assign(broken, "lesion")
    labeller.assign(gone, "normal")
    broken.path.write_bytes(b"DICM but damaged")
    gone.path.unlink()
    done = Labeller.open(project.path).progress()
    assert len(done.orphans) == 2 and done.labelled == 0
    lines = {o.label.path: o.describe() for o in done.orphans}
    assert "does not load" in lines[str(broken.path)] and "lesion" in lines[str(broken.path)]
    assert "not found in the project's studies" in lines[str(gone.path)]


def test_an_unreadable_label_file_is_listed_and_left_alone(project):
    bad = project.label_dir / "0123.x@y.json"
    bad.write_text("{not json")
    labeller = Labeller.open(project.path)
    assert [p for p, _ in labeller.progress().problems] == [bad] and bad.exists()
