"""Synthetic phantoms, their DICOM/PNG writers and the bundled samples (medview.demo.synth)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import pixel_array
from pydicom.uid import CTImageStorage, DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, RLELossless

from medview.demo import synth

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"
needs_dcmtk = pytest.mark.skipif(shutil.which("dcmj2pnm") is None, reason="dcmtk's dcmj2pnm is not on PATH")


@pytest.fixture(scope="module")
def small_volume() -> np.ndarray:
    return synth.ct_phantom_volume(n_slices=8, size=64, rng=7)


# --------------------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------------------


def test_core_synth_imports_no_qt_torch_or_opencv():
    code = (
        "import sys, medview.demo.synth\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'cv2', 'pyqtgraph')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_chest_phantom_is_deterministic_per_seed():
    a_img, a_mask = synth.chest_phantom(128, rng=3, lesions=2)
    b_img, b_mask = synth.chest_phantom(128, rng=3, lesions=2)
    c_img, _ = synth.chest_phantom(128, rng=4, lesions=2)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_mask, b_mask)
    assert not np.array_equal(a_img, c_img)
    # a Generator is accepted as well, and consumed
    gen = np.random.default_rng(3)
    np.testing.assert_array_equal(synth.chest_phantom(128, rng=gen, lesions=2)[0], a_img)


def test_chest_phantom_types_and_range():
    img, mask = synth.chest_phantom(96, rng=0)
    assert img.shape == mask.shape == (96, 96)
    assert img.dtype == np.uint16 and mask.dtype == np.uint8
    assert int(img.max()) <= 4095 and int(img.max()) > 3000 and int(img.min()) < 300
    assert mask.sum() == 0  # no lesions asked for


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_lesions_lie_inside_the_lungs(seed):
    case = synth.chest_phantom_case(192, rng=seed, lesions=3, lesion_radius_mm=(8.0, 18.0), noise=0)
    # lesions are drawn after the anatomy: without noise the same seed gives the same chest
    clear = synth.chest_phantom_case(192, rng=seed, lesions=0, noise=0)
    assert len(case.lesions) == 3
    assert set(np.unique(case.lesion_mask)) == {0, 1}
    assert not np.any(case.lesion_mask.astype(bool) & ~case.lung_mask.astype(bool))
    rows, cols = np.indices(case.image.shape)
    union = np.zeros(case.image.shape, bool)
    for les in case.lesions:
        disc = (rows - les.row) ** 2 + (cols - les.col) ** 2 <= les.radius**2
        assert disc.any()
        r0, c0, r1, c1 = les.bbox
        assert not np.any(disc[:r0]) and not np.any(disc[r1:])
        assert not np.any(disc[:, :c0]) and not np.any(disc[:, c1:])
        # a nodule is visibly denser than the lung it sits in
        assert case.image[disc].mean() > clear.image[disc].mean() + 80
        union |= disc
    np.testing.assert_array_equal(union, case.lesion_mask.astype(bool))
    np.testing.assert_array_equal(case.lung_mask, clear.lung_mask)


def test_chest_phantom_looks_like_a_chest():
    case = synth.chest_phantom_case(256, rng=11)
    img = case.image.astype(float)
    lungs = case.lung_mask.astype(bool)
    assert 0.15 < lungs.mean() < 0.45  # two lungs fill a good part of the film
    left, right = lungs[:, :128].sum(), lungs[:, 128:].sum()
    assert 0.6 < left / right < 1.6
    mediastinum = img[100:160, 120:136].mean()
    background = img[128, :3].mean()  # air beside the patient
    assert img[lungs].mean() < mediastinum - 1000  # lungs dark, mediastinum bright (MONOCHROME2 sense)
    assert background < img[lungs].mean()


def test_too_many_lesions_fail_loudly():
    with pytest.raises(RuntimeError, match="could not place lesion"):
        synth.chest_phantom(64, rng=0, lesions=40, lesion_radius_mm=(30.0, 40.0))


def test_ct_phantom_volume(small_volume):
    vol = small_volume
    assert vol.shape == (8, 64, 64) and vol.dtype == np.int16
    np.testing.assert_array_equal(vol, synth.ct_phantom_volume(n_slices=8, size=64, rng=7))
    assert vol.min() >= -1024 and vol.max() <= 3071
    mid = vol[4]
    assert mid[0, 0] == -1024  # outside the reconstruction circle
    assert -1060 < np.median(mid[32, 1:5]) < -940  # air inside the field of view
    lungs = mid[(mid > -950) & (mid < -700)]
    assert lungs.size > 200 and -900 < np.median(lungs) < -800
    assert mid.max() > 550  # bone
    assert np.any((mid > -130) & (mid < -70))  # fat
    assert np.any((vol[-1] > 50) & (vol[-1] < 75))  # liver in the lowest slice


def test_ct_phantom_varies_smoothly_along_z():
    vol = synth.ct_phantom_volume(n_slices=16, size=64, rng=1).astype(float)
    adjacent = [np.corrcoef(vol[k].ravel(), vol[k + 1].ravel())[0, 1] for k in range(15)]
    assert min(adjacent) > 0.8
    assert np.corrcoef(vol[0].ravel(), vol[-1].ravel())[0, 1] < max(adjacent)


# --------------------------------------------------------------------------------------
# CT writer
# --------------------------------------------------------------------------------------


def test_write_ct_series_roundtrip_and_headers(tmp_path, small_volume):
    paths = synth.write_ct_series(small_volume, tmp_path / "ct", spacing=(0.8, 0.9), thickness=2.5,
                                  patient=synth.PatientInfo("TEST^CT", "T1"), series_number=3)
    assert [p.name for p in paths] == [f"CT{k:04d}.dcm" for k in range(8)]
    assert not list((tmp_path / "ct").glob(".*"))  # no temporary files left behind
    datasets = [pydicom.dcmread(p) for p in paths]
    uids = set()
    for k, (p, ds) in enumerate(zip(paths, datasets)):
        assert ds.file_meta.TransferSyntaxUID == RLELossless
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID == CTImageStorage
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        uids.add(ds.SOPInstanceUID)
        assert ds.Modality == "CT" and ds.Manufacturer == "medview synthetic"
        assert ds.PatientName == "TEST^CT" and ds.PatientID == "T1" and ds.StudyDate and ds.SeriesNumber == 3
        assert ds.InstanceNumber == k + 1
        assert [float(v) for v in ds.PixelSpacing] == [0.8, 0.9]
        assert "ImagerPixelSpacing" not in ds
        assert float(ds.SliceThickness) == 2.5
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
        assert float(ds.RescaleIntercept) == -1024 and float(ds.RescaleSlope) == 1 and ds.RescaleType == "HU"
        assert [float(v) for v in ds.WindowCenter] == [40, -600]
        assert [float(v) for v in ds.WindowWidth] == [400, 1500]
        assert list(ds.WindowCenterWidthExplanation) == ["MEDIASTINUM", "LUNG"]
        stored = pixel_array(p)
        np.testing.assert_array_equal(stored, small_volume[k].astype(np.int32) + 1024)
        hu = stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_array_equal(hu, small_volume[k])
    assert len(uids) == 8
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert len({ds.FrameOfReferenceUID for ds in datasets}) == 1
    # geometry: positions lie along the slice normal, spaced by the thickness, z falling
    iop = np.array(datasets[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    np.testing.assert_allclose(normal, [0, 0, 1])
    ipp = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    along = ipp @ normal
    np.testing.assert_allclose(np.diff(along), -2.5)
    np.testing.assert_allclose(ipp[:, :2] - ipp[0, :2], 0.0)  # a straight stack
    np.testing.assert_allclose([float(ds.SliceLocation) for ds in datasets], along)
    # InstanceNumber decreases as z increases: sorting by position reverses the instance order
    by_position = sorted(datasets, key=lambda d: float(np.array(d.ImagePositionPatient, float) @ normal))
    assert [d.InstanceNumber for d in by_position] == list(range(8, 0, -1))
    # image centred on the isocentre
    np.testing.assert_allclose(ipp[0, 0], -(64 - 1) / 2 * 0.9)
    np.testing.assert_allclose(ipp[0, 1], -(64 - 1) / 2 * 0.8)


def test_write_ct_series_uncompressed_and_16_bit(tmp_path):
    vol = np.array([[[-1024, 0], [3000, 5000]], [[-1000, 40], [700, 61000]]], np.int32)
    paths = synth.write_ct_series(vol, tmp_path, compress=None)
    ds = pydicom.dcmread(paths[1])
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.BitsStored == 16 and ds.HighBit == 15
    np.testing.assert_array_equal(pixel_array(paths[1]).astype(int) - 1024, vol[1])


def test_write_ct_series_rejects_values_it_cannot_store(tmp_path):
    with pytest.raises(ValueError, match="does not fit"):
        synth.write_ct_series(np.full((2, 4, 4), -2000, np.int16), tmp_path)
    with pytest.raises(ValueError, match="3-D integer"):
        synth.write_ct_series(np.zeros((4, 4)), tmp_path)


def test_seeded_uids_are_reproducible(tmp_path, small_volume):
    a = synth.write_ct_series(small_volume[:2], tmp_path / "a", uid_seed="x")
    b = synth.write_ct_series(small_volume[:2], tmp_path / "b", uid_seed="x")
    c = synth.write_ct_series(small_volume[:2], tmp_path / "c")
    for p, q, r in zip(a, b, c):
        da, db, dc = (pydicom.dcmread(x) for x in (p, q, r))
        assert da.SOPInstanceUID == db.SOPInstanceUID != dc.SOPInstanceUID
        assert da.StudyInstanceUID == db.StudyInstanceUID != dc.StudyInstanceUID
        assert len(da.SOPInstanceUID) <= 64


# --------------------------------------------------------------------------------------
# radiograph writer
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
@pytest.mark.parametrize("compress", ["rle", None])
def test_write_radiograph_roundtrip_and_headers(tmp_path, photometric, compress):
    case = synth.chest_phantom_case(128, rng=2, lesions=1)
    path = synth.write_radiograph(case.image, tmp_path / "dx.dcm", imager_spacing=0.3, magnification=1.2,
                                  photometric=photometric, window=(2000, 3000), lesions=case.lesions,
                                  compress=compress)
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == (RLELossless if compress else ExplicitVRLittleEndian)
    assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == DigitalXRayImageStorageForPresentation
    assert ds.Modality == "DX" and ds.PresentationIntentType == "FOR PRESENTATION"
    assert ds.Manufacturer == "medview synthetic"
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.3, 0.3]
    assert "PixelSpacing" not in ds
    assert float(ds.EstimatedRadiographicMagnificationFactor) == 1.2
    assert float(ds.DistanceSourceToDetector) / float(ds.DistanceSourceToPatient) == pytest.approx(1.2, rel=1e-6)
    assert ds.PhotometricInterpretation == photometric
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
    assert float(ds.RescaleSlope) == 1 and float(ds.RescaleIntercept) == 0
    assert ds.PixelIntensityRelationship == "LOG" and ds.ViewPosition == "PA"
    assert float(ds.WindowWidth) == 3000
    stored = pixel_array(path)
    if photometric == "MONOCHROME1":
        np.testing.assert_array_equal(stored, 4095 - case.image.astype(int))
        assert ds.PresentationLUTShape == "INVERSE" and ds.PixelIntensityRelationshipSign == 1
        assert float(ds.WindowCenter) == 4095 - 2000
    else:
        np.testing.assert_array_equal(stored, case.image)
        assert ds.PresentationLUTShape == "IDENTITY" and ds.PixelIntensityRelationshipSign == -1
        assert float(ds.WindowCenter) == 2000
    assert "1 synthetic lesion" in ds.ImageComments and "not patient data" in ds.ImageComments


def test_write_radiograph_default_window_and_8_bit(tmp_path):
    img = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    path = synth.write_radiograph(img, tmp_path / "x.dcm", photometric="MONOCHROME2")
    ds = pydicom.dcmread(path)
    assert (ds.BitsAllocated, ds.BitsStored) == (8, 8)
    np.testing.assert_array_equal(pixel_array(path), img)
    assert 0 < float(ds.WindowWidth) <= 256


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "f.png"
    synth.write_png(np.zeros((4, 4), np.uint8), target)
    before = target.read_bytes()

    def boom(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        synth._atomic_write(target, boom)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


# --------------------------------------------------------------------------------------
# PNG writer
# --------------------------------------------------------------------------------------


def test_write_png_8_and_16_bit(tmp_path):
    img, mask = synth.chest_phantom(64, rng=0, lesions=1)
    p16 = synth.write_png(img, tmp_path / "img16.png", bits=16)
    with Image.open(p16) as im:
        assert im.mode.startswith("I")
        np.testing.assert_array_equal(np.asarray(im).astype(np.int64), img)
    p8 = synth.write_png(img, tmp_path / "img8.png", bits=8, value_range=(0, 4095))
    with Image.open(p8) as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), np.round(img / 4095 * 255).astype(np.uint8))
    pm = synth.write_png(mask, tmp_path / "mask.png")
    with Image.open(pm) as im:
        np.testing.assert_array_equal(np.asarray(im), mask)
    with pytest.raises(ValueError, match="value_range"):
        synth.write_png(img, tmp_path / "bad.png", bits=8)


# --------------------------------------------------------------------------------------
# bundled samples
# --------------------------------------------------------------------------------------

_KEY_TAGS = [
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "PatientName", "PatientID",
    "Modality", "Manufacturer", "InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient",
    "PixelSpacing", "ImagerPixelSpacing", "SliceThickness", "SliceLocation", "WindowCenter", "WindowWidth",
    "RescaleIntercept", "PhotometricInterpretation", "BitsStored", "Rows", "Columns",
    "EstimatedRadiographicMagnificationFactor", "ImageComments",
]


def _assert_pixels_match(a: np.ndarray, b: np.ndarray, name: str) -> None:
    # Exact in practice; a last-ulp difference in a transcendental function on another CPU
    # could flip a rounding somewhere, so allow a few single-level differences. A change of
    # the generator shows up as differences almost everywhere.
    assert a.shape == b.shape, name
    diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= max(10, a.size // 10000), (
        f"{name} is out of sync with the generator: rerun scripts/make_samples.py"
    )


def test_bundled_samples_exist_and_are_small():
    ct = sorted((SAMPLES / "ct_chest").glob("*.dcm"))
    xr = sorted((SAMPLES / "chest_xray").glob("*.dcm"))
    assert len(ct) == 40 and len(xr) == 1
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme.lower() and "make_samples.py" in readme and "not patient data" in readme
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 6_000_000
    assert pydicom.dcmread(ct[0], stop_before_pixels=True).PatientName == "SAMPLE^CT"
    ds = pydicom.dcmread(xr[0], stop_before_pixels=True)
    assert ds.PatientName == "SAMPLE^XRAY" and ds.PhotometricInterpretation == "MONOCHROME1"


def test_bundled_samples_are_in_sync_with_the_generator(tmp_path):
    written = synth.write_samples(tmp_path)
    for folder, paths in written.items():
        committed = sorted((SAMPLES / folder).glob("*.dcm"))
        assert [p.name for p in committed] == [p.name for p in paths], folder
        check = paths if folder == "chest_xray" else [paths[0], paths[17], paths[-1]]
        for new in check:
            old_ds, new_ds = pydicom.dcmread(SAMPLES / folder / new.name), pydicom.dcmread(new)
            for tag in _KEY_TAGS:
                assert old_ds.get(tag) == new_ds.get(tag), f"{folder}/{new.name}: {tag}"
            _assert_pixels_match(pixel_array(old_ds), pixel_array(new_ds), f"{folder}/{new.name}")


# --------------------------------------------------------------------------------------
# a third-party reader: dcmtk
# --------------------------------------------------------------------------------------


def _dcmj2pnm(src: Path, out: Path, *args: str) -> np.ndarray:
    subprocess.run(["dcmj2pnm", *args, "+on", str(src), str(out)], check=True, capture_output=True)
    with Image.open(out) as im:
        return np.asarray(im.convert("L")).astype(int)


def _linear_window(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 LINEAR, to 0..255."""
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    return np.clip(y, 0, 255)


@needs_dcmtk
@pytest.mark.reference
def test_dcmtk_reads_written_ct(tmp_path, small_volume):
    paths = synth.write_ct_series(small_volume, tmp_path / "ct")
    for index, (c, w) in ((1, (40, 400)), (2, (-600, 1500))):
        got = _dcmj2pnm(paths[4], tmp_path / f"ct{index}.png", "+Wi", str(index))
        want = _linear_window(small_volume[4].astype(float), c, w)
        assert np.abs(got - want).max() <= 1.0
    got = _dcmj2pnm(paths[4], tmp_path / "ct.png", "+Wi", "1")
    assert got[0, 0] == 0 and got.max() == 255  # padding black, bone white


@needs_dcmtk
@pytest.mark.reference
@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_dcmtk_reads_written_radiograph(tmp_path, photometric):
    case = synth.chest_phantom_case(128, rng=5, lesions=1)
    path = synth.write_radiograph(case.image, tmp_path / "dx.dcm", photometric=photometric,
                                  window=(2000, 3600), compress="rle")
    got = _dcmj2pnm(path, tmp_path / "dx.png", "+Wi", "1")
    # the same picture whichever way it was stored: dense tissue bright
    want = _linear_window(case.image.astype(float), 2000, 3600)
    if photometric == "MONOCHROME1":
        stored = 4095 - case.image.astype(float)
        want = 255 - _linear_window(stored, 4095 - 2000, 3600)
    assert np.abs(got - want).max() <= 1.0
    lungs = case.lung_mask.astype(bool)
    assert got[lungs].mean() < got[40:90, 58:70].mean()


@needs_dcmtk
@pytest.mark.reference
def test_dcmtk_reads_bundled_samples(tmp_path):
    for path in (SAMPLES / "ct_chest" / "CT0020.dcm", SAMPLES / "chest_xray" / "chest_pa.dcm"):
        got = _dcmj2pnm(path, tmp_path / f"{path.stem}.png", "+Wi", "1")
        assert got.std() > 20
