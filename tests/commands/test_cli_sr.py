"""``medview sr export | show | import`` as a user runs them (real subprocesses).

A reading saved in one user folder goes out as SR + KOS files and comes back into
another user folder through ``import``; failures are one line, exit status 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from medview.core.annotations import ELLIPSE, LENGTH, Annotation, AnnotationStore
from medview.core.key_images import KeyImages
from medview.core.readings import read_reading_file, reading_path, save_reading
from tests.helpers.study_files import STUDY_UID, frame_of, one_study, open_study


def medview(*args, user):
    env = dict(os.environ, MEDVIEW_USER_DIR=str(user))
    return subprocess.run([sys.executable, "-m", "medview", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)


def _one_line_failure(proc, text):
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], proc.stderr


def test_export_show_and_import_a_saved_reading(tmp_path):
    folder = one_study(tmp_path / "study")
    study = open_study(folder)
    store, keys = AnnotationStore(), KeyImages()
    ct, emri = frame_of(study, "CT_small.dcm"), frame_of(study, "emri_small.dcm", 4)
    store.add(ct.key, Annotation(LENGTH, [(10.0, 10.0), (40.0, 50.0)]))
    store.add(emri.key, Annotation(ELLIPSE, [(10.0, 12.0), (30.0, 40.0)]))
    keys.mark(emri.key)
    save_reading(study, store, keys, root=tmp_path / "me")

    proc = medview("sr", "export", folder, tmp_path / "sr.dcm", "--key-images",
                   tmp_path / "ko.dcm", "--observer", "Reader^Ann", user=tmp_path / "me")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"wrote 2 measurement(s) to {tmp_path / 'sr.dcm'}",
                                        f"wrote 1 key image(s) to {tmp_path / 'ko.dcm'}"]

    proc = medview("sr", "show", tmp_path / "sr.dcm", user=tmp_path / "me")
    assert proc.returncode == 0, proc.stderr
    mm = 50 * float(ct.header.PixelSpacing[0])   # a 30-40-50 px line, square pixels
    assert f"Length 1: Length {mm:.4g} mm [Pixel Spacing] on image" in proc.stdout
    assert "Ellipse ROI 2: Area" in proc.stdout and "[uncalibrated]" in proc.stdout
    shown = json.loads(medview("sr", "show", tmp_path / "ko.dcm", "--json",
                               user=tmp_path / "me").stdout)
    assert shown["kind"] == "key images" and shown["study_uid"] == STUDY_UID
    assert [(k["sop_instance_uid"], k["frame"]) for k in shown["key_images"]] == [
        (emri.header.SOPInstanceUID, 4)]

    for name in ("sr.dcm", "ko.dcm"):
        proc = medview("sr", "import", tmp_path / name, folder, user=tmp_path / "you")
        assert proc.returncode == 0, proc.stderr
    mine = read_reading_file(reading_path(study, tmp_path / "me"))
    yours = read_reading_file(reading_path(study, tmp_path / "you"))
    assert _points(yours) == _points(mine) and len(yours["annotations"]) == 2
    assert [k["frame"] for k in yours["key_images"]] == [4]
    again = medview("sr", "import", tmp_path / "sr.dcm", folder, user=tmp_path / "you")
    assert again.stdout.startswith("added 0 measurement(s) and 0 key image(s)")


def _points(reading: dict) -> list:
    return sorted((a["kind"], a["image"]["sop_instance_uid"], a["image"]["frame"],
                   [[round(v, 3) for v in p] for p in a["points"]])
                  for a in reading["annotations"])


def test_failures_are_one_line(tmp_path):
    folder = one_study(tmp_path / "study", names=("CT_small.dcm",))
    _one_line_failure(medview("sr", "export", folder, tmp_path / "sr.dcm", user=tmp_path / "me"),
                      "no measurements or key images in this study to export")
    assert not (tmp_path / "sr.dcm").exists()
    one_study(tmp_path / "study" / "other", names=("MR_small.dcm",), StudyInstanceUID="1.2.3.9")
    _one_line_failure(medview("sr", "export", folder, tmp_path / "sr.dcm", user=tmp_path / "me"),
                      "holds 2 studies; choose one with --study N")
    _one_line_failure(medview("sr", "show", folder / "CT_small.dcm", user=tmp_path / "me"),
                      "not a DICOM SR measurement report")
    _one_line_failure(medview("sr", "show", tmp_path / "none.dcm", user=tmp_path / "me"),
                      "none.dcm: file not found")
