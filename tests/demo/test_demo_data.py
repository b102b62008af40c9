"""``medview demo-data`` as a user runs it: files, formats, labels, masks, patients."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from medview.demo.demo_data import write_demo_data
from tests.helpers.cli import medview
from tests.helpers.trainer_files import DEMO_N, DEMO_SIZE
from trainer.data.images import load_image


def _labels(root: Path) -> list[dict[str, str]]:
    with open(root / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_cli_succeeds_and_reports(cli_demo_run):
    proc, out = cli_demo_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{2 * DEMO_N} classification images" in proc.stdout


def test_layout(cli_demo):
    cls = sorted(p.relative_to(cli_demo).as_posix() for p in (cli_demo / "classification").rglob("*") if p.is_file())
    assert {Path(p).parent.as_posix() for p in cls} == {"classification/normal", "classification/lesion"}
    assert len(cls) == 2 * DEMO_N
    assert {Path(p).suffix for p in cls} == {".dcm", ".png"}
    images = sorted(p.stem for p in (cli_demo / "segmentation" / "images").iterdir())
    masks = sorted(p.stem for p in (cli_demo / "segmentation" / "masks").iterdir())
    assert images == masks and len(images) == DEMO_N
    assert {p.suffix for p in (cli_demo / "segmentation" / "masks").iterdir()} == {".png"}
    assert {p.suffix for p in (cli_demo / "segmentation" / "images").iterdir()} == {".dcm", ".png"}
    assert "SYNTHETIC" in (cli_demo / "README.txt").read_text()


def test_labels_csv_matches_folders_and_dicom(cli_demo):
    rows = _labels(cli_demo)
    assert sum(r["label"] == "normal" for r in rows) == DEMO_N
    assert sorted(r["path"] for r in rows) == sorted(
        p.relative_to(cli_demo).as_posix() for p in (cli_demo / "classification").rglob("*") if p.is_file())
    per_patient: dict[str, int] = {}
    for r in rows:
        path = cli_demo / r["path"]
        assert path.parent.name == r["label"]
        per_patient[r["patient_id"]] = per_patient.get(r["patient_id"], 0) + 1
        if path.suffix == ".dcm":
            ds = pydicom.dcmread(path)
            assert ds.PatientID == r["patient_id"]
            assert ds.Modality == "DX" and ds.pixel_array.shape == (DEMO_SIZE, DEMO_SIZE)
            # the ground truth the generator wrote into the file agrees with the label
            drawn = int(re.search(r"(\d+) synthetic lesion", ds.ImageComments).group(1))
            assert (drawn > 0) == (r["label"] == "lesion"), (r, ds.ImageComments)
        else:
            with Image.open(path) as im:
                assert im.size == (DEMO_SIZE, DEMO_SIZE) and im.mode.startswith("I")
    assert max(per_patient.values()) >= 3 and len(per_patient) < len(rows)  # several per patient


def test_masks_are_binary_and_mostly_non_empty(cli_demo):
    masks = [np.asarray(Image.open(p)) for p in sorted((cli_demo / "segmentation" / "masks").iterdir())]
    assert all(m.shape == (DEMO_SIZE, DEMO_SIZE) and set(np.unique(m)) <= {0, 255} for m in masks)
    filled = [bool(m.any()) for m in masks]
    assert sum(filled) >= DEMO_N // 2 and not all(filled)  # lesions, and at least one empty mask


def _aligned_correlation(a: np.ndarray, b: np.ndarray, margin: int = 9) -> float:
    """Best correlation of ``a``'s centre with ``b`` over shifts of up to ``margin`` pixels."""
    h, w = a.shape
    core = a[margin:h - margin, margin:w - margin].ravel()
    return max(np.corrcoef(core, b[margin + dy:h - margin + dy, margin + dx:w - margin + dx].ravel())[0, 1]
               for dy in range(-margin, margin + 1) for dx in range(-margin, margin + 1))


def test_images_of_one_patient_share_anatomy(cli_demo):
    """Two images of one patient match almost exactly once aligned; other patients do not."""
    by_patient: dict[str, list[Path]] = {}
    for r in _labels(cli_demo):
        by_patient.setdefault(r["patient_id"], []).append(cli_demo / r["path"])
    patients = list(by_patient)
    first = load_image(by_patient[patients[0]][0])
    same = _aligned_correlation(first, load_image(by_patient[patients[0]][1]))
    others = [_aligned_correlation(first, load_image(by_patient[p][0])) for p in patients[1:3]]
    assert same > 0.99 and max(others) < same - 0.01, (same, others)


def test_refuses_a_folder_that_is_not_empty(cli_demo):
    proc = medview("demo-data", cli_demo, "--n", 2, "--size", 64, timeout=180)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(cli_demo) in proc.stderr and "not an empty folder" in proc.stderr


def test_rejects_too_small_arguments(tmp_path):
    proc = medview("demo-data", tmp_path / "x", "--n", 1, timeout=180)
    assert proc.returncode == 2 and "--n must be at least" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_same_seed_same_files(tmp_path):
    a = write_demo_data(tmp_path / "a", n=2, size=64, seed=3)
    b = write_demo_data(tmp_path / "b", n=2, size=64, seed=3)
    files = [im.path for im in a.classification + a.segmentation]
    assert files == [im.path for im in b.classification + b.segmentation]
    for rel in files + [Path("labels.csv")]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_masks_option_adds_a_lesion_mask_per_lesion_image_and_the_same_images(tmp_path):
    """``--masks``: the lesion images get their masks (a mask column, empty for normal
    images), so a classifier can learn where the lesions are; the images are unchanged."""
    import cv2

    plain = write_demo_data(tmp_path / "plain", n=3, size=64, seed=5)
    masked = write_demo_data(tmp_path / "masked", n=3, size=64, seed=5, masks=True)
    for a, b in zip(plain.classification, masked.classification, strict=True):
        assert (tmp_path / "plain" / a.path).read_bytes() == (tmp_path / "masked" / b.path).read_bytes()
    with open(tmp_path / "masked" / "labels.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "label", "patient_id", "mask"]
    for row in rows:
        if row["label"] == "normal":
            assert row["mask"] == ""
        else:
            mask = cv2.imread(str(tmp_path / "masked" / row["mask"]), cv2.IMREAD_UNCHANGED)
            assert mask.shape == (64, 64) and set(np.unique(mask)) == {0, 255}
    assert "mask" not in (tmp_path / "plain" / "labels.csv").read_text().splitlines()[0]
