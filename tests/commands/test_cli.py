"""The CLI as a user runs it: real subprocesses, exit codes, no tracebacks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pydicom
import pytest
from PIL import Image

from medview.core import pixels
from medview.core.io.folder import load_paths
from tests.helpers.cli import assert_clean_failure, medview
from tests.helpers.datafiles import find


def test_version():
    proc = medview("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("medview ")


def test_info_file_lists_all_tags_as_json():
    proc = medview("info", find("CT_small.dcm"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    by_keyword = {t["keyword"]: t for t in data["tags"]}
    assert by_keyword["PatientName"]["value"] == "CompressedSamples^CT1"
    assert by_keyword["TransferSyntaxUID"]["vr"] == "UI"
    ds = pydicom.dcmread(find("CT_small.dcm"), stop_before_pixels=True)
    assert len(data["tags"]) == len(ds) + len(ds.file_meta)


def test_info_file_text_shows_sequences():
    proc = medview("info", find("eCT_Supplemental.dcm"))
    assert proc.returncode == 0, proc.stderr
    assert "PerFrameFunctionalGroupsSequence" in proc.stdout and "> item 2" in proc.stdout


def test_info_folder_tree_and_skipped(tmp_path):
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(find(name), tmp_path)
    (tmp_path / "junk.dcm").write_text("junk")
    proc = medview("info", tmp_path, "--json")
    assert proc.returncode == 0
    tree = json.loads(proc.stdout)
    series = [s for p in tree["patients"] for st in p["studies"] for s in st["series"]]
    assert sorted(s["modality"] for s in series) == ["CT", "MR"]
    ct = next(s for s in series if s["modality"] == "CT")
    assert ct["spacing_source"] == "PixelSpacing" and ct["rows"] == 128
    assert tree["skipped"] == [{"path": str(tmp_path / "junk.dcm"), "reason": "not a DICOM file"}]
    assert "junk.dcm: not a DICOM file" in proc.stderr


def test_export_equals_pipeline_render(tmp_path):
    out = tmp_path / "ct.png"
    proc = medview("export", find("CT_small.dcm"), out, "--window", "40", "400")
    assert proc.returncode == 0, proc.stderr
    (frame,) = load_paths([find("CT_small.dcm")]).frames()
    expected = pixels.render(frame.stored(), frame.params, pixels.Window(40, 400))
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)


def test_export_multiframe_frame_and_preset(tmp_path):
    out = tmp_path / "f.png"
    proc = medview("export", find("emri_small.dcm"), out, "--frame", "10")
    assert proc.returncode == 0, proc.stderr
    frame = load_paths([find("emri_small.dcm")]).frames()[9]
    np.testing.assert_array_equal(np.asarray(Image.open(out)),
                                  pixels.render(frame.stored(), frame.params))
    proc = medview("export", find("CT_small.dcm"), out, "--preset", "nonsense")
    assert_clean_failure(proc, "CT_small.dcm")
    assert "available:" in proc.stderr


@pytest.mark.parametrize("make,name", [
    (lambda d: d / "missing.dcm", "missing.dcm"),
    (lambda d: (d / "text.dcm").write_text("x") and d / "text.dcm", "text.dcm"),
    (lambda d: shutil.copy(find("rtplan.dcm"), d / "plan.dcm"), "plan.dcm"),
    (lambda d: (d / "cut.dcm").write_bytes(find("CT_small.dcm").read_bytes()[:-9000])
     and d / "cut.dcm", "cut.dcm"),
])
def test_export_bad_input_exits_2_with_one_line(tmp_path, make, name):
    src = make(tmp_path)
    proc = medview("export", src, tmp_path / "out.png")
    assert_clean_failure(proc, name)
    assert not (tmp_path / "out.png").exists()


def test_info_bad_file_exits_2():
    assert_clean_failure(medview("info", find("zipMR.gz")), "zipMR.gz")


def test_export_frame_out_of_range():
    assert_clean_failure(medview("export", find("CT_small.dcm"), "x.png", "--frame", "2"),
                         "CT_small.dcm")


def test_anonymize_folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(find(name), src)
    proc = medview("anonymize", src, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    # neither file says Burned In Annotation NO: one line each, naming it
    assert proc.stderr.splitlines() == [
        f"warning: {src / name}: burned-in annotation not ruled out (Burned In Annotation "
        "is absent): PatientIdentityRemoved left NO" for name in ("CT_small.dcm", "MR_small.dcm")]
    out = sorted((tmp_path / "out").glob("*.dcm"))
    assert len(out) == 2
    for original, anon in zip(sorted(src.glob("*.dcm")), out):
        a, b = pydicom.dcmread(original), pydicom.dcmread(anon)
        assert b.PatientName != a.PatientName and b.StudyInstanceUID != a.StudyInstanceUID
        assert b.PixelData == a.PixelData
    assert_clean_failure(medview("anonymize", src, src), str(src.name))
