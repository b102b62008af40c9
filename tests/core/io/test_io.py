"""Readers on real files: everything loads or says why, folders group, series sort."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from medview.core.errors import ReadError
from medview.core.io.dicom import decode_frame, read_header
from medview.core.io.folder import load_paths
from medview.core.pixel_cache import PixelCache
from tests.helpers.datafiles import all_real_files, find, pydicom_data_files

# Reasons a real test file may legitimately give, by a word each must contain.
EXPECTED_FAILURES = {
    "MR_truncated.dcm": "truncated",
    "rtplan.dcm": "no pixel data",
    "reportsi.dcm": "no pixel data",
    "waveform_ecg.dcm": "no pixel data",
    "zipMR.gz": "not a DICOM file",
    "README.txt": "not a DICOM file",
    "meta_missing_tsyntax.dcm": "missing required tag",
}


def _load_one(path):
    lib = load_paths([path])
    if lib.series():
        frames = lib.series()[0].frames
        frames[0].stored()
        frames[-1].stored()
    return lib


@pytest.mark.parametrize("path", all_real_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_file_loads_or_gives_one_line_reason(path):
    try:
        lib = _load_one(path)
    except ReadError as err:  # pixels that fail at decode time
        reason = err.reason
    else:
        if lib.series() or lib.segmentations:  # a SEG is an overlay, not a series
            assert not lib.skipped
            return
        if path.name.startswith("DICOMDIR"):  # reasons are its referenced files'
            assert all("\n" not in r for _, r in lib.skipped)
            return
        assert len(lib.skipped) == 1
        skipped_path, reason = lib.skipped[0]
        assert skipped_path.name == path.name
    assert reason and "\n" not in reason and "Traceback" not in reason
    if path.name in EXPECTED_FAILURES:
        assert EXPECTED_FAILURES[path.name] in reason


def test_most_real_images_load():
    images = [p for p in pydicom_data_files() if p.suffix == ".dcm"]
    loaded = 0
    for p in images:
        try:
            lib = _load_one(p)
            loaded += bool(lib.series() or lib.segmentations)
        except ReadError:
            pass
    # pydicom-data: every file except the deliberately damaged ones
    assert loaded >= len(images) - 3, f"{loaded}/{len(images)}"


def test_folder_groups_and_reports_skipped(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(find(name), tmp_path / name)
    shutil.copy(find("rtplan.dcm"), tmp_path / "sub" / "plan.dcm")
    (tmp_path / "sub" / "notes.txt").write_text("not an image")
    (tmp_path / ".DS_Store").write_bytes(b"\0" * 10)  # OS junk: ignored silently
    lib = load_paths([tmp_path])
    assert len(lib.series()) == 2
    assert {s.modality for s in lib.series()} == {"CT", "MR"}
    reasons = {p.name: r for p, r in lib.skipped}
    assert set(reasons) == {"plan.dcm", "notes.txt"}
    assert "RT Plan" in reasons["plan.dcm"] and reasons["notes.txt"] == "not a DICOM file"


def _write_series(tmp_path, n=6):
    """A CT series from CT_small.dcm with z rising while InstanceNumber falls."""
    src = pydicom.dcmread(find("CT_small.dcm"))
    series_uid = generate_uid()
    paths = []
    for i in range(n):
        ds = src.copy()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = n - i
        ds.ImagePositionPatient = [0.0, 0.0, 10.0 * i]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelData = (src.pixel_array + 100 * i).astype(src.pixel_array.dtype).tobytes()
        # file names shuffled against both orders
        path = tmp_path / f"img_{(i * 7) % n:02d}.dcm"
        ds.save_as(path)
        paths.append(path)
    return paths


def test_series_sorted_along_slice_normal_not_instance_number(tmp_path):
    _write_series(tmp_path)
    (series,) = load_paths([tmp_path]).series()
    z = [float(f.header.ImagePositionPatient[2]) for f in series.frames]
    assert z == sorted(z) and len(z) == 6
    assert [f.instance_number for f in series.frames] == [6, 5, 4, 3, 2, 1]


def test_sort_falls_back_to_instance_number(tmp_path):
    paths = _write_series(tmp_path)
    for p in paths:  # no geometry at all: InstanceNumber decides
        ds = pydicom.dcmread(p)
        del ds.ImagePositionPatient
        ds.save_as(p)
    (series,) = load_paths([tmp_path]).series()
    assert [f.instance_number for f in series.frames] == [1, 2, 3, 4, 5, 6]


def test_headers_first_pixels_on_demand(tmp_path):
    _write_series(tmp_path)
    (series,) = load_paths([tmp_path]).series()
    cache = PixelCache()
    for f in series.frames:
        f.cache = cache
    assert not any(f.is_decoded for f in series.frames)
    series.frames[2].stored()
    assert [f.is_decoded for f in series.frames] == [False, False, True, False, False, False]


def test_pixel_cache_is_bounded():
    cache = PixelCache(max_bytes=3 * 1000)
    for i in range(10):
        cache.get(i, lambda: np.zeros(1000, np.uint8))
    assert cache.nbytes <= 3000 and cache.contains(9) and not cache.contains(0)


def test_multiframe_file_becomes_frames():
    (series,) = load_paths([find("emri_small.dcm")]).series()
    assert len(series) == 10
    assert series.frames[9].stored().shape == (64, 64)
    assert series.frames[0].label.endswith("[frame 1/10]")


def test_dicomdir_loads_referenced_files(tmp_path):
    fs = FileSet()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        fs.add(pydicom.dcmread(find(name)))
    fs.write(tmp_path / "media")
    lib = load_paths([tmp_path / "media" / "DICOMDIR"])
    assert sorted(s.modality for s in lib.series()) == ["CT", "MR"]
    assert not lib.skipped
    # and a folder holding a DICOMDIR does not count its files twice
    assert sum(len(s) for s in load_paths([tmp_path / "media"]).series()) == 2


@pytest.mark.parametrize("kind", ["png8", "png16", "png_rgb", "png_rgb16", "tif16", "bmp"])
def test_plain_images_round_trip(tmp_path, kind):
    rng = np.random.default_rng(0)
    arrays = {
        "png8": rng.integers(0, 256, (40, 30), dtype=np.uint8),
        "png16": rng.integers(0, 65536, (40, 30), dtype=np.uint16),
        "png_rgb": rng.integers(0, 256, (40, 30, 3), dtype=np.uint8),
        "png_rgb16": rng.integers(0, 65536, (40, 30, 3), dtype=np.uint16),
        "tif16": rng.integers(0, 4096, (40, 30), dtype=np.uint16),
        "bmp": rng.integers(0, 256, (40, 30, 3), dtype=np.uint8),
    }
    arr = arrays[kind]
    path = tmp_path / f"img.{ 'tif' if kind.startswith('tif') else 'bmp' if kind == 'bmp' else 'png'}"
    cv2.imwrite(str(path), arr[..., ::-1] if arr.ndim == 3 else arr)  # OpenCV writes BGR
    (series,) = load_paths([tmp_path]).series()
    frame = series.frames[0]
    assert frame.shape == arr.shape[:2]
    assert frame.image_info.bits == arr.itemsize * 8
    np.testing.assert_array_equal(frame.stored(), arr)


def test_jpeg_image_loads(tmp_path):
    arr = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    cv2.imwrite(str(tmp_path / "x.jpg"), arr)
    (series,) = load_paths([tmp_path]).series()
    assert np.abs(series.frames[0].stored().astype(int) - arr).max() <= 4


@pytest.mark.parametrize("content,reason", [
    (b"", "not a DICOM file"),
    (b"hello, this is text\n" * 20, "not a DICOM file"),
    (b"\0" * 128 + b"DICM" + b"\xff" * 50, "damaged DICOM header"),
])
def test_bad_dicom_gives_reason(tmp_path, content, reason):
    p = tmp_path / "bad.dcm"
    p.write_bytes(content)
    with pytest.raises(ReadError) as err:
        read_header(p)
    assert reason in err.value.reason and "bad.dcm" in str(err.value)


def test_truncated_pixel_data_fails_at_decode_with_reason(tmp_path):
    data = find("CT_small.dcm").read_bytes()
    p = tmp_path / "cut.dcm"
    p.write_bytes(data[: len(data) - 5000])
    header = read_header(p)  # header intact: the file lists fine
    with pytest.raises(ReadError) as err:
        decode_frame(p, 0, header)
    assert "truncated" in err.value.reason


def test_corrupt_image_file_is_skipped(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    shutil.copy(find("CT_small.dcm"), tmp_path)
    lib = load_paths([tmp_path])
    assert len(lib.series()) == 1
    assert [(p.name, "not a readable image" in r) for p, r in lib.skipped] == [("fake.png", True)]


def test_jpeg_extended_12bit_decodes_without_gpl_codec():
    arr = decode_frame(find("JPGExtended.dcm"), 0)
    assert arr.shape == (1024, 256) and arr.max() < 4096 and arr.max() > 0


@pytest.mark.parametrize("uid,reason", [
    ("1.2.840.10008.1.2.4.100", "unsupported transfer syntax MPEG2"),
    ("1.2.3.4.5.6", "unknown transfer syntax 1.2.3.4.5.6"),
])
def test_unsupported_transfer_syntax_is_named(tmp_path, uid, reason):
    ds = pydicom.dcmread(find("JPEG-LL.dcm"))
    ds.file_meta.TransferSyntaxUID = uid
    ds.save_as(tmp_path / "x.dcm", enforce_file_format=True)
    lib = load_paths([tmp_path])
    assert not lib.series()
    assert reason in lib.skipped[0][1]


def test_second_drop_adds_missing_slices_to_open_series(tmp_path):
    paths = _write_series(tmp_path)
    first = load_paths(paths[:3])
    first.merge(load_paths(paths[1:]))  # overlaps by two files
    (series,) = first.series()
    assert len(series) == 6
    z = [float(f.header.ImagePositionPatient[2]) for f in series.frames]
    assert z == sorted(z)
