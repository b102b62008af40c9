"""Damaged headers are refused at header time, before any buffer is allocated.

Each case is a real file with one lie written into it, as the fuzzer
(scripts/fuzz.py) found them; the folder loader must list it with the skipped
files and its reason, and keep the good files.
"""

from __future__ import annotations

import gc
import resource
import shutil

import numpy as np

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medview.core.io.folder import load_paths
from medview.core.study import Frame
from medview.core.tags import MAX_SEQUENCE_DEPTH, tag_rows
from tests.helpers.datafiles import find


def _rewrite(tmp_path, name: str, edit, out: str = "lying.dcm"):
    ds = pydicom.dcmread(find(name))
    edit(ds)
    path = tmp_path / out
    ds.save_as(path, enforce_file_format=False)
    return path


def _only_skipped(path):
    lib = load_paths([path])
    assert lib.series() == [], "a damaged file must not be opened"
    assert len(lib.skipped) == 1 and lib.skipped[0][0].name == path.name
    return lib.skipped[0][1]


def test_truncated_native_file_is_skipped_with_sizes(tmp_path):
    good = tmp_path / "good.dcm"
    shutil.copy(find("MR_small.dcm"), good)
    data = find("CT_small.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 5000])
    lib = load_paths([tmp_path])
    assert [f.path.name for s in lib.series() for f in s.frames] == ["good.dcm"]
    (path, reason), = lib.skipped
    assert path.name == "cut.dcm"
    assert reason.startswith("truncated pixel data: has ") and "needs 32,768" in reason


def test_two_billion_frames_in_a_small_file_is_refused_without_allocating(tmp_path):
    path = _rewrite(tmp_path, "CT_small.dcm", lambda ds: setattr(ds, "NumberOfFrames", "2147483647"))
    assert path.stat().st_size < 40_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reason = _only_skipped(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "truncated pixel data" in reason and "2,147,483,647 frame(s)" in reason
    assert grown_mb < 100  # a Frame per claimed frame would need hundreds of GB


def test_encapsulated_frames_must_have_fragments(tmp_path):
    path = _rewrite(tmp_path, "emri_small_jpeg_2k_lossless.dcm",
                    lambda ds: setattr(ds, "NumberOfFrames", "11"))
    reason = _only_skipped(path)
    assert "10 frame(s)" in reason or "10 compressed fragment(s)" in reason


def test_encapsulated_item_past_end_of_file_is_truncated(tmp_path):
    data = find("JPEG2000.dcm").read_bytes()
    path = tmp_path / "cut_j2k.dcm"
    path.write_bytes(data[:-100])
    assert "truncated pixel data" in _only_skipped(path)


def test_wrong_codec_stream_is_refused_before_the_decoder_sees_it(tmp_path):
    # RLE data labelled JPEG Lossless: GDCM aborts the process on it (found by fuzzing)
    def relabel(ds):
        ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGLosslessSV1

    path = _rewrite(tmp_path, "rtdose_rle_1frame.dcm", relabel)
    assert _only_skipped(path) == "damaged compressed pixel data (not a JPEG stream)"


def test_codec_image_smaller_than_the_header_is_refused(tmp_path):
    # GDCM aborts the process on a JPEG-LS stream smaller than Rows × Columns (found by fuzzing)
    path = _rewrite(tmp_path, "JPEGLSNearLossless_16.dcm", lambda ds: setattr(ds, "Rows", 65535))
    assert _only_skipped(path) == "compressed image is 10 × 50 but the header says 10 × 65535"


def test_jpeg_bits_that_gdcm_aborts_on_are_refused(tmp_path):
    # JPEG Baseline labelled 64-bit: GDCM's JPEG codec aborted the process (found by fuzzing)
    path = _rewrite(tmp_path, "SC_rgb_small_odd_jpeg.dcm", lambda ds: setattr(ds, "BitsAllocated", 64))
    assert _only_skipped(path) == "BitsAllocated 64 is impossible for JPEG pixel data (8 or 16)"


def test_per_frame_groups_must_cover_every_frame(tmp_path):
    def drop_items(ds):
        del ds.PerFrameFunctionalGroupsSequence[1:]

    reason = _only_skipped(_rewrite(tmp_path, "liver.dcm", drop_items))
    assert reason == "per-frame functional groups cover 1 of 3 frames"


@pytest.mark.parametrize("value", ["1e308", "NaN", "-inf"])
def test_rescale_must_be_finite_and_in_range(tmp_path, value):
    path = _rewrite(tmp_path, "CT_small.dcm", lambda ds: setattr(ds, "RescaleSlope", value))
    assert _only_skipped(path) == f"rescale slope {value} is out of range"


def test_palette_colour_needs_its_palette(tmp_path):
    def drop_palette(ds):
        del ds.RedPaletteColorLookupTableData

    reason = _only_skipped(_rewrite(tmp_path, "OBXXXX1A_rle.dcm", drop_palette))
    assert reason == "palette colour image without its palette (RedPaletteColorLookupTableData missing)"


@pytest.mark.parametrize("keyword,value,words", [
    ("Rows", 0, "invalid Rows"),
    ("SamplesPerPixel", 2, "SamplesPerPixel 2"),
    ("BitsAllocated", 12, "BitsAllocated 12"),
    ("PhotometricInterpretation", "RGB", "does not match SamplesPerPixel 1"),
    ("NumberOfFrames", "0", "invalid NumberOfFrames 0"),
])
def test_impossible_image_attributes_are_refused(tmp_path, keyword, value, words):
    path = _rewrite(tmp_path, "CT_small.dcm", lambda ds: setattr(ds, keyword, value))
    assert words in _only_skipped(path)


def test_unparsable_frame_count_is_refused():
    path = find("badVR.dcm")  # a real file with NumberOfFrames '1A'
    assert _only_skipped(path) == "invalid NumberOfFrames '1A'"


def test_huge_frame_of_a_tiny_compressed_file_is_refused(tmp_path):
    def claim_huge(ds):
        ds.Rows, ds.Columns = 65535, 65535

    reason = _only_skipped(_rewrite(tmp_path, "SC_rgb_gdcm_KY.dcm", claim_huge))
    assert reason.startswith("image too large: 65535 × 65535 × 3 samples")


def test_every_real_image_still_passes_the_checks():
    # the checks must not refuse files the viewer shows (spot check by transfer syntax)
    for name in ("CT_small.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm", "emri_small.dcm",
                 "SC_rgb_dcmtk_+eb+cy+s2.dcm", "JPGExtended.dcm", "SC_rgb_rle_16bit_2frame.dcm",
                 "emri_small_jpeg_2k_lossless.dcm", "JPEGLSNearLossless_16.dcm", "liver.dcm",
                 "liver_1frame.dcm", "OT-PAL-8-face.dcm", "SC_rgb_small_odd.dcm", "rtdose.dcm"):
        lib = load_paths([find(name)])  # the liver files are SEGs: overlays, not series
        assert (lib.series() or lib.segmentations) and not lib.skipped, (name, lib.skipped)


def test_tag_listing_limits_sequence_depth():
    root = Dataset()
    node = root
    for _ in range(MAX_SEQUENCE_DEPTH + 30):
        child = Dataset()
        node.ContentSequence = Sequence([child])
        node = child
    node.PatientName = "deep"
    depth, rows = 0, tag_rows(root, include_meta=False)
    while rows[0].items:
        rows = rows[0].items[0]
        depth += 1
    assert depth == MAX_SEQUENCE_DEPTH
    assert "nested deeper than" in rows[0].value


def test_tag_listing_survives_an_unconvertible_element(tmp_path):
    # a flipped byte gave an IS value pydicom cannot convert (NotImplementedError in
    # pydicom's hooks): the row says so and the rest is listed (found by fuzzing)
    ds = Dataset()
    ds.PatientName = "ok"
    ds.add_new(0x00280008, "IS", "1")
    raw = pydicom.dataelem.RawDataElement(pydicom.tag.Tag(0x00280010), "XX", 2, b"\x01\x00",
                                          0, False, True)
    ds._dict[raw.tag] = raw
    rows = {r.keyword: r.value for r in tag_rows(ds, include_meta=False)}
    assert rows["PatientName"] == "ok"
    assert rows["Rows"].startswith("<unreadable")


def _many_frames(path, n: int) -> None:
    ds = pydicom.dcmread(find("CT_small.dcm"))
    ds.Rows = ds.Columns = 4
    ds.NumberOfFrames = n
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = (np.arange(n * 16) % 251).astype(np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=False)


def test_a_hundred_thousand_frames_keep_no_object_per_frame(tmp_path):
    path = tmp_path / "many.dcm"
    _many_frames(path, 100_000)
    lib = load_paths([path])
    frames = lib.series()[0].frames
    assert len(frames) == 100_000
    # (other tests in this process may hold Frames of their own files)
    alive = sum(isinstance(o, Frame) and o.path == path for o in gc.get_objects())
    assert alive == 0, f"{alive} Frame objects after loading"
    last = frames[-1]
    assert last.index == 99_999 and last.label == "many.dcm [frame 100000/100000]"
    assert frames[-1] is last  # shared while held: its cached params stay with it
    assert last.stored().ravel()[0] == (99_999 * 16) % 251


def test_compact_frames_sort_like_files(tmp_path):
    # two single-frame files in reverse position order and a 3-frame file: sorted along
    # the normal, the multi-frame file's frames in file order
    for name, z in (("a.dcm", 5.0), ("b.dcm", -5.0)):
        ds = pydicom.dcmread(find("CT_small.dcm"))
        ds.ImagePositionPatient = [0, 0, z]
        ds.save_as(tmp_path / name, enforce_file_format=False)
    lib = load_paths([tmp_path])
    assert [f.path.name for f in lib.series()[0].frames] == ["b.dcm", "a.dcm"]
    _many_frames(tmp_path / "m.dcm", 3)
    frames = load_paths([tmp_path / "m.dcm"]).series()[0].frames
    assert [f.index for f in frames] == [0, 1, 2] and frames[1:] == [frames[1], frames[2]]
