"""Data set discovery: the three layouts on demo data, and every kind of bad input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from medview.demo import synth
from medview.core.errors import ReadError
from tests.helpers.trainer_files import DEMO_N, DEMO_SIZE, dicom, mask_png, png
from trainer.data.datasets import (
    DatasetError,
    discover,
    discover_classification_csv,
    discover_classification_folders,
    discover_segmentation,
)
from trainer.data.images import load_image, load_mask, mask_labels


def _csv_rows(root: Path) -> dict[str, dict[str, str]]:
    with open(root / "labels.csv", newline="", encoding="utf-8") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- the demo data set ------------------------------------------------------------------


def test_folders_on_demo(cli_demo):
    ds = discover_classification_folders(cli_demo / "classification")
    assert ds.task == "classification" and ds.classes == ["lesion", "normal"]
    assert ds.summary.counts == {"lesion": DEMO_N, "normal": DEMO_N}
    assert ds.summary.skipped == []
    # the PNG half has no patient ID: split by image, which may leak patients across parts
    (warning,) = ds.summary.warnings
    n_png = sum(s.path.suffix == ".png" for s in ds.samples)
    assert warning.startswith(f"{n_png} of {2 * DEMO_N} images have no patient ID") and "leakage" in warning
    assert ds.summary.split_by == "mixed" and ds.summary.to_dict()["split_by"] == "mixed"
    assert ds.summary.split_description() == (f"mixed: by patient, but by image for the {n_png} images "
                                              "without patient ID")
    assert ds.summary.size_min == ds.summary.size_max == ds.summary.size_most_common == (DEMO_SIZE, DEMO_SIZE)
    rows = _csv_rows(cli_demo)
    for s in ds.samples:
        rel = s.path.relative_to(cli_demo).as_posix()
        assert ds.classes[s.label] == s.path.parent.name == rows[rel]["label"]
        # DICOM carries the patient; a PNG in a folder layout cannot
        assert s.patient_id == (rows[rel]["patient_id"] if s.path.suffix == ".dcm" else None)
    assert ds.summary.n_without_patient_id == sum(s.path.suffix == ".png" for s in ds.samples) > 0
    assert f"lesion: {DEMO_N}" in ds.summary.describe()


def test_csv_on_demo(cli_demo):
    ds = discover_classification_csv(cli_demo / "labels.csv")
    rows = _csv_rows(cli_demo)
    assert len(ds) == len(rows) == 2 * DEMO_N
    for s in ds.samples:
        row = rows[s.path.relative_to(cli_demo).as_posix()]
        assert ds.classes[s.label] == row["label"] and s.patient_id == row["patient_id"]
    assert ds.summary.n_without_patient_id == 0
    assert ds.summary.n_patients == len({r["patient_id"] for r in rows.values()})
    assert set(ds.groups()) == {f"patient:{r['patient_id']}" for r in rows.values()}


def test_segmentation_on_demo(cli_demo):
    ds = discover_segmentation(cli_demo / "segmentation")
    assert ds.classes == ["background", "class 1"] and len(ds) == DEMO_N
    for s in ds.samples:
        assert s.image.stem == s.mask.stem
        mask = load_mask(s.mask)
        assert mask.shape == load_image(s.image).shape == (DEMO_SIZE, DEMO_SIZE)
        assert s.classes_present == tuple(np.unique(mask)) and set(np.unique(mask)) <= {0, 1}
    assert ds.summary.counts["class 1"] == sum(1 in s.classes_present for s in ds.samples)
    assert 0 in ds.strata() and 1 in ds.strata()  # empty masks and lesions both present


def test_discover_picks_the_layout(cli_demo):
    assert discover(cli_demo / "classification").summary.source == str(cli_demo / "classification")
    assert discover(cli_demo / "labels.csv").summary.source == str(cli_demo / "labels.csv")
    assert discover(cli_demo / "segmentation").task == "segmentation"
    with pytest.raises(DatasetError, match="not found"):
        discover(cli_demo / "nothing-here")


def test_load_image_gives_modality_values(cli_demo):
    path = next((cli_demo / "classification" / "normal").glob("*.dcm"))
    values = load_image(path)
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, pydicom.dcmread(path).pixel_array)
    with pytest.raises(ReadError):
        load_image(path, frame=3)


def test_summary_is_json_ready(cli_demo):
    d = discover(cli_demo / "labels.csv").summary.to_dict()
    assert json.loads(json.dumps(d)) == d and d["size_most_common"] == [DEMO_SIZE, DEMO_SIZE]


# -- classification folders: bad input --------------------------------------------------


def _classes(root: Path, spec: dict[str, int]) -> Path:
    for name, count in spec.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            png(root / name / f"{i}.png", value=10 * i)
    return root


def test_empty_class_folder_is_dropped_with_a_warning(tmp_path):
    ds = discover_classification_folders(_classes(tmp_path, {"a": 5, "b": 5, "empty": 0}))
    assert ds.classes == ["a", "b"]
    assert any("'empty'" in w and "dropped" in w for w in ds.summary.warnings)


def test_empty_class_leaving_one_class_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match=r"only one class \('a'\)"):
        discover_classification_folders(_classes(tmp_path, {"a": 3, "empty": 0}))


def test_one_class_only_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="at least two"):
        discover_classification_folders(_classes(tmp_path, {"only": 3}))


def test_no_class_folders_is_an_error(tmp_path):
    png(tmp_path / "x.png")
    with pytest.raises(DatasetError, match="no class folders"):
        discover_classification_folders(tmp_path)


def test_unreadable_files_are_skipped_and_listed(tmp_path):
    root = _classes(tmp_path, {"a": 5, "b": 5})
    (root / "a" / "broken.png").write_text("not an image")
    (root / "b" / "notes.txt").write_text("hello")
    ds = discover_classification_folders(root)
    assert ds.summary.counts == {"a": 5, "b": 5}
    reasons = {p.name: r for p, r in ds.summary.skipped}
    assert set(reasons) == {"broken.png", "notes.txt"}
    assert "not a readable image" in reasons["broken.png"] and "DICOM" in reasons["notes.txt"]
    assert all("\n" not in r for r in reasons.values())


def test_check_pixels_catches_files_whose_pixels_do_not_decode(tmp_path):
    root = _classes(tmp_path, {"a": 5, "b": 5})
    data = (root / "a" / "0.png").read_bytes()
    (root / "a" / "0.png").write_bytes(data[:45])  # header intact, pixel data cut off
    assert discover_classification_folders(root).summary.counts["a"] == 5  # headers only
    ds = discover_classification_folders(root, check_pixels=True)
    assert ds.summary.counts["a"] == 4
    assert [(p.name, r) for p, r in ds.summary.skipped] == [("0.png", "not a readable image")]


def test_loose_files_rare_classes_and_shared_patient_id_warn(tmp_path):
    for cls in ("a", "b"):
        for i in range(3):
            dicom(tmp_path / cls / f"{i}.dcm", "ANON")
    png(tmp_path / "stray.png")
    warnings = " | ".join(discover_classification_folders(tmp_path).summary.warnings)
    assert "stray.png" in warnings and "ignored" in warnings
    assert "class 'a' has only 3 images" in warnings
    assert "same patient ID 'ANON'" in warnings


def test_sizes_are_summarised(tmp_path):
    for name, shape in (("a/1.png", (20, 30)), ("a/2.png", (20, 30)), ("b/1.png", (10, 40))):
        png(tmp_path / name, shape=shape)
    s = discover_classification_folders(tmp_path).summary
    assert (s.size_min, s.size_max, s.size_most_common, s.size_most_common_count) == ((10, 30), (20, 40), (20, 30), 2)


# -- classification CSV: bad input ------------------------------------------------------


def test_csv_missing_column_names_it(tmp_path):
    csv_path = _write_csv(tmp_path / "l.csv", ["path", "diagnosis"], [["x.png", "a"]])
    with pytest.raises(DatasetError, match=r"missing column 'label' \(found columns: path, diagnosis\)"):
        discover_classification_csv(csv_path)


def test_csv_missing_files_are_listed(tmp_path):
    for i in range(3):
        png(tmp_path / "img" / f"{i}.png")
    rows = [["img/0.png", "a"], ["img/1.png", "b"], ["img/2.png", "b"], ["img/gone.png", "a"], ["img/0.png", "a"]]
    ds = discover_classification_csv(_write_csv(tmp_path / "labels.csv", ["path", "label"], rows))
    assert len(ds) == 3
    reasons = [(p.name, r) for p, r in ds.summary.skipped]
    assert ("gone.png", "file not found (labels.csv line 5)") in reasons
    assert ("0.png", "listed again (labels.csv line 6; first on line 2)") in reasons


def test_csv_patient_id_column_overrides_dicom_and_header_is_lenient(tmp_path):
    dicom(tmp_path / "a.dcm", "FROM-DICOM")
    dicom(tmp_path / "b.dcm", "FROM-DICOM-B")
    png(tmp_path / "c.png")
    text = "\ufeffPath, Label ,Patient_ID,notes\na.dcm,x,CSV-1,\nb.dcm,y,,\nc.png,y,CSV-3,\n"
    (tmp_path / "l.csv").write_text(text, encoding="utf-8")
    ds = discover_classification_csv(tmp_path / "l.csv")
    assert [(s.path.name, s.patient_id) for s in ds.samples] == [
        ("a.dcm", "CSV-1"), ("b.dcm", "FROM-DICOM-B"), ("c.png", "CSV-3")]


def test_csv_with_one_readable_class_is_an_error(tmp_path):
    png(tmp_path / "a.png")
    csv_path = _write_csv(tmp_path / "l.csv", ["path", "label"], [["a.png", "x"], ["missing.png", "y"]])
    with pytest.raises(DatasetError, match="only one class"):
        discover_classification_csv(csv_path)


def test_csv_without_rows_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="lists no images"):
        discover_classification_csv(_write_csv(tmp_path / "l.csv", ["path", "label"], []))


# -- segmentation: bad input ------------------------------------------------------------


def _seg_pair(root: Path, name: str, mask, image_shape=None) -> None:
    mask = np.asarray(mask, np.uint8)
    png(root / "images" / f"{name}.png", shape=image_shape or mask.shape)
    mask_png(root / "masks" / f"{name}.png", mask)


def _disk(value: int = 1, shape=(16, 16)) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    m[4:9, 4:9] = value
    return m


def test_binary_255_masks_become_class_1(tmp_path):
    _seg_pair(tmp_path, "a", _disk(255))
    _seg_pair(tmp_path, "b", np.zeros((16, 16)))
    ds = discover_segmentation(tmp_path)
    assert ds.classes == ["background", "class 1"]
    assert [s.classes_present for s in ds.samples] == [(0, 1), (0,)]
    assert set(np.unique(load_mask(ds.samples[0].mask))) == {0, 1}


def test_multi_class_masks_and_names(tmp_path):
    m = _disk(1)
    m[10:14, 10:14] = 2
    _seg_pair(tmp_path, "a", m)
    ds = discover_segmentation(tmp_path, class_names=["bg", "nodule", "effusion"])
    assert ds.classes == ["bg", "nodule", "effusion"] and ds.samples[0].classes_present == (0, 1, 2)
    assert ds.strata().tolist() == [2]
    with pytest.raises(DatasetError, match="class 2 but only 2 class names"):
        discover_segmentation(tmp_path, class_names=["bg", "nodule"])


def test_size_mismatch_skips_that_pair(tmp_path):
    _seg_pair(tmp_path, "good", _disk())
    _seg_pair(tmp_path, "bad", _disk(), image_shape=(20, 16))
    ds = discover_segmentation(tmp_path)
    assert [s.image.name for s in ds.samples] == ["good.png"]
    assert [(p.name, r) for p, r in ds.summary.skipped] == [("bad.png", "mask is 16×16 but its image is 20×16")]


def test_missing_mask_and_bad_mask_values_are_skipped(tmp_path):
    _seg_pair(tmp_path, "good", _disk())
    png(tmp_path / "images" / "lonely.png")
    mixed = _disk(1)
    mixed[0, 0] = 255
    _seg_pair(tmp_path, "mixed", mixed)
    mask_png(tmp_path / "masks" / "orphan.png", _disk())
    ds = discover_segmentation(tmp_path)
    assert [s.image.name for s in ds.samples] == ["good.png"]
    reasons = {p.name: r for p, r in ds.summary.skipped}
    assert reasons["lonely.png"] == "no mask (expected masks/lonely.png or .dcm)"
    assert "mask value 255 is not a class number" in reasons["mixed.png"]
    assert any("orphan.png" in w for w in ds.summary.warnings)


def test_colour_mask_is_skipped(tmp_path):
    _seg_pair(tmp_path, "good", _disk())
    png(tmp_path / "images" / "rgb.png")
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[2:5, 2:5] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "masks" / "rgb.png")
    reasons = {p.name: r for p, r in discover_segmentation(tmp_path).summary.skipped}
    assert reasons == {"rgb.png": "mask is colour; expected one channel of class numbers"}


def test_all_masks_empty_is_an_error(tmp_path):
    _seg_pair(tmp_path, "a", np.zeros((16, 16)))
    with pytest.raises(DatasetError, match="every mask is empty"):
        discover_segmentation(tmp_path)


def test_missing_masks_folder_is_an_error(tmp_path):
    png(tmp_path / "images" / "a.png")
    with pytest.raises(DatasetError, match="missing folder 'masks'"):
        discover_segmentation(tmp_path)


def test_dicom_mask_and_patient_id(tmp_path):
    dicom(tmp_path / "images" / "a.dcm", "P1", value=500)
    synth.write_radiograph(_disk(1).astype(np.uint16) * 1, tmp_path / "masks" / "a.dcm",
                           photometric="MONOCHROME2", window=(0.5, 1.0), bits_stored=8)
    ds = discover_segmentation(tmp_path)
    assert ds.samples[0].patient_id == "P1" and ds.samples[0].classes_present == (0, 1)
    assert ds.groups() == ["patient:P1"]


def test_mask_labels_rules():
    np.testing.assert_array_equal(mask_labels(np.array([[0, 255]])), [[0, 1]])
    np.testing.assert_array_equal(mask_labels(np.array([[0, 3]], np.uint16)), [[0, 3]])
    for bad in (np.array([[0, 1, 255]]), np.array([[0, 300]]), np.array([[0.5]]), np.array([[-1, 0]])):
        with pytest.raises(ValueError):
            mask_labels(bad)


def test_jpeg_mask_is_refused(tmp_path):
    shutil.copy(png(tmp_path / "m.png"), tmp_path / "m.jpg")
    with pytest.raises(ReadError, match="masks must be .png or .dcm"):
        load_mask(tmp_path / "m.jpg")


def test_split_basis_is_named_and_leakage_warned(tmp_path):
    for cls in ("a", "b"):
        for i in range(5):
            png(tmp_path / "png" / cls / f"{i}.png")
            dicom(tmp_path / "dcm" / cls / f"{i}.dcm", f"P{cls}{i}")
    none = discover_classification_folders(tmp_path / "png").summary
    assert none.split_by == "image" and none.split_description() == "by image (no image has a patient ID)"
    assert any(w.startswith("no image has a patient ID: the split is by image") and "leakage" in w
               for w in none.warnings)
    every = discover_classification_folders(tmp_path / "dcm").summary
    assert every.split_by == "patient" and every.split_description() == "by patient"
    assert not any("leakage" in w for w in every.warnings)
