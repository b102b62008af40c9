"""``bench/lesion_data.py`` writes what the trainer's discovery accepts (tiny: 8 per class, 64 px)."""

from __future__ import annotations

import csv

import numpy as np
import pydicom
import pytest

from bench.lesion_data import TEST_SEED, write_lesion_data, write_unlabelled
from trainer.data.datasets import discover
from trainer.data.images import load_mask

N, SIZE = 8, 64


@pytest.fixture(scope="module")
def classification(tmp_path_factory):
    return write_lesion_data(tmp_path_factory.mktemp("cls"), "classification", N, seed=3, size=SIZE)


def test_classification_csv_discovers_with_patients(classification):
    data = discover(classification)
    assert sorted(data.classes) == ["lesion", "normal"]
    assert data.summary.counts == {"lesion": N, "normal": N}
    assert data.summary.split_by == "patient" and data.summary.n_patients == 2 * N
    assert data.summary.skipped == []
    assert data.summary.size_most_common == (SIZE, SIZE)


def test_classification_masks_mark_lesion_rows_only(classification):
    with open(classification, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "label", "patient_id", "mask"]
    for row in rows:
        if row["label"] == "normal":
            assert row["mask"] == ""
        else:
            mask = load_mask(classification.parent / row["mask"])
            assert mask.shape == (SIZE, SIZE) and 0 < mask.sum() < mask.size // 4


def test_dicom_has_modality_body_part_and_patient(classification):
    ds = pydicom.dcmread(next((classification.parent / "images").glob("*.dcm")))
    assert ds.Modality in ("CR", "MR", "CT") and ds.BodyPartExamined
    assert ds.BitsAllocated == 16 and ds.pixel_array.shape == (SIZE, SIZE)
    assert ds.PatientID.startswith("LC3-")


def test_segmentation_folder_discovers_half_empty(tmp_path):
    root = write_lesion_data(tmp_path, "segmentation", N, seed=4, size=SIZE)
    data = discover(root)
    assert data.task == "segmentation" and len(data) == 2 * N
    assert sorted(s.stratum for s in data.samples) == [0] * N + [1] * N


def test_same_seed_same_pixels_other_seed_other(tmp_path):
    a = write_unlabelled(tmp_path / "a", 3, seed=5, size=SIZE)
    b = write_unlabelled(tmp_path / "b", 3, seed=5, size=SIZE)
    c = write_unlabelled(tmp_path / "c", 3, seed=TEST_SEED, size=SIZE, kind="other")
    pixels = [[pydicom.dcmread(p).pixel_array for p in sorted(d.glob("*.dcm"))] for d in (a, b, c)]
    assert all(np.array_equal(x, y) for x, y in zip(pixels[0], pixels[1]))
    assert not any(np.array_equal(x, y) for x, y in zip(pixels[0], pixels[2]))
    assert {pydicom.dcmread(p).Modality for p in c.glob("*.dcm")} <= {"US", "NM", "CT"}
