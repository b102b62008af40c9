"""Masks stored as DICOM SEG: pixels and references survive a round trip, and the export
is the trainer's image/mask layout."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest

from medview.labels.exchange import export_labels
from medview.labels.files import LabelsError
from medview.labels.labelling import Labeller
from medview.labels.project import Project
from medview.labels.seg import read_seg
from tests.helpers.datafiles import find
from trainer.data.datasets import discover


@pytest.fixture
def ct_project(tmp_path) -> Project:
    studies = tmp_path / "ct"
    studies.mkdir()
    shutil.copy(find("CT_small.dcm"), studies / "ct.dcm")
    return Project.create(tmp_path / "seg.mvlabels.json", "segmentation", ["lesion", "organ"],
                          [studies], tmp_path / "labels")


def test_a_mask_is_a_seg_referencing_its_ct_slice_and_reads_back_equal(ct_project):
    labeller = Labeller.open(ct_project.path, user="anna", host="ws1")
    (image,) = labeller.images.images
    rows, cols = np.ogrid[:128, :128]
    mask = np.zeros((128, 128), np.uint8)
    mask[(rows - 64) ** 2 + (cols - 40) ** 2 <= 10 ** 2] = 1  # a disc of radius 10 px
    mask[100:110, 90:120] = 2
    label = labeller.set_mask(image, mask)
    seg_file = labeller.mask_file(label)
    assert label.segments == ("lesion", "organ") and seg_file.parent.name == "masks"
    back = read_seg(seg_file)
    assert np.array_equal(back.labels, mask) and back.names == ["lesion", "organ"]
    assert (back.labels == 1).sum() == 317  # pixel centres inside a disc of radius 10
    source = pydicom.dcmread(image.path, stop_before_pixels=True)
    seg = pydicom.dcmread(seg_file)
    assert seg.Modality == "SEG" and back.source_sop_instance_uid == source.SOPInstanceUID
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0] \
        .ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert (seg.PatientID, seg.StudyInstanceUID) == (source.PatientID, source.StudyInstanceUID)
    # the project counts it, and the SEG file is not taken for an image to label
    again = Labeller.open(ct_project.path)
    assert len(again.images) == 1 and again.progress().per_class == {"lesion": 1, "organ": 1}


def test_a_mask_of_another_size_or_on_a_plain_image_is_refused(ct_project, tmp_path):
    labeller = Labeller.open(ct_project.path)
    (image,) = labeller.images.images
    with pytest.raises(LabelsError, match="the mask is 64×64 but the image is 128×128"):
        labeller.set_mask(image, np.zeros((64, 64), np.uint8))
    with pytest.raises(LabelsError, match=r"values must be 0 … 2"):
        labeller.set_mask(image, np.full((128, 128), 3, np.uint8))
    assert labeller.store.get(image.id) is None and not (ct_project.label_dir / "masks").exists()


def test_exported_masks_are_a_segmentation_data_set_the_trainer_reads(ct_project, tmp_path):
    labeller = Labeller.open(ct_project.path)
    (image,) = labeller.images.images
    mask = np.zeros((128, 128), np.uint8)
    mask[20:40, 30:50] = 1
    labeller.set_mask(image, mask)
    done = export_labels(labeller, tmp_path / "export")
    assert done.count == 1 and done.notes == []
    data = discover(tmp_path / "export")
    assert data.task == "segmentation" and len(data) == 1
    (sample,) = data.samples
    assert sample.classes_present == (0, 1) and sample.patient_id == "1CT1"


def test_a_new_export_replaces_an_earlier_one_but_never_a_foreign_folder(ct_project, tmp_path):
    labeller = Labeller.open(ct_project.path)
    (image,) = labeller.images.images
    labeller.set_mask(image, np.ones((128, 128), np.uint8))
    out = tmp_path / "export"
    export_labels(labeller, out)
    export_labels(labeller, out)  # the same folder again: replaced, not refused
    assert len(list((out / "masks").iterdir())) == 1
    labeller.assign(image, "skip")
    with pytest.raises(LabelsError, match="no masks to export"):
        export_labels(labeller, out)
    assert not (out / "masks").exists()  # the skipped image's old pair cannot train
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(LabelsError, match="not an empty folder or an earlier export"):
        export_labels(labeller, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_a_mask_of_one_frame_of_an_enhanced_ct_references_that_frame(tmp_path):
    from medview.labels.project import Segment
    from medview.labels.seg import write_seg

    source = find("eCT_Supplemental.dcm")  # enhanced CT, 2 frames
    header = pydicom.dcmread(source, stop_before_pixels=True)
    mask = np.zeros((header.Rows, header.Columns), np.uint8)
    mask[10:20, 30:45] = 1
    write_seg(tmp_path / "seg.dcm", source, 1, mask, [Segment("lesion", "#ff0000")])
    back = read_seg(tmp_path / "seg.dcm")
    assert (back.source_sop_instance_uid, back.source_frame) == (header.SOPInstanceUID, 1)
    assert np.array_equal(back.labels, mask)
