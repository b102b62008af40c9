"""``medview labels``: create, label, list, export, import; every failure one line, exit 2."""

from __future__ import annotations

import csv
import json

import pytest

from medview.cli import main


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main(["labels", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_new_set_list_export_import(cases, tmp_path, capsys):
    project = tmp_path / "p.mvlabels.json"
    code, out, _ = _run(capsys, "new", project, "--task", "classification", "--classes",
                        "normal,lesion", "--studies", cases / "classification", "--labels",
                        tmp_path / "labels")
    assert code == 0 and "classification project 'p' (normal, lesion)" in out
    lesion = sorted((cases / "classification" / "lesion").glob("*.dcm"))[0]
    code, out, _ = _run(capsys, "set", project, lesion, "lesion")
    assert code == 0 and out.startswith(f"{lesion}: lesion (by ")
    code, out, _ = _run(capsys, "list", project, "--json")
    listed = json.loads(out)
    assert (listed["labelled"], listed["per_class"]) == (1, {"normal": 0, "lesion": 1})
    assert listed["unlabelled"] == listed["total"] - 1 == 11
    code, out, _ = _run(capsys, "import", project, cases / "labels.csv")
    assert code == 0 and "11 labels added" in out and "12/12 labelled (normal 6, lesion 6)" in out
    code, out, _ = _run(capsys, "export", project, "--out", tmp_path / "export")
    assert code == 0 and "12 labelled images" in out
    with open(tmp_path / "export" / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "label", "patient_id"] and len(rows) == 12
    assert all(r["patient_id"].startswith("DEMO-") for r in rows)  # PNG rows from the import
    truth = {p.name: p.parent.name for p in (cases / "classification").rglob("*.*")}
    assert all(truth[r["path"].rsplit("/", 1)[1]] == r["label"] for r in rows)


def test_import_keeps_existing_labels_unless_replace(cases, tmp_path, capsys):
    project = tmp_path / "p.json"
    _run(capsys, "new", project, "--task", "classification", "--classes", "normal,lesion",
         "--studies", cases / "classification", "--labels", tmp_path / "labels")
    lesion = sorted((cases / "classification" / "lesion").glob("*.dcm"))[0]
    _run(capsys, "set", project, lesion, "normal")
    code, out, err = _run(capsys, "import", project, cases / "labels.csv")
    assert code == 0 and "11 labels added" in out
    assert f"{lesion}: keeps its label 'normal'" in err and "use --replace" in err
    code, out, _ = _run(capsys, "import", project, cases / "labels.csv", "--replace")
    assert "1 labels added" in out


@pytest.mark.parametrize("args, message", [
    (["list", "{tmp}/missing.json"], "{tmp}/missing.json: file not found"),
    (["new", "{tmp}/p.json", "--task", "classification", "--studies", "{tmp}", "--labels", "{tmp}/l"],
     "--task classification needs --classes"),
    (["new", "{tmp}/p.json", "--task", "classification", "--classes", "a,b", "--studies",
      "{tmp}/nowhere", "--labels", "{tmp}/l"], "{tmp}/nowhere: not found"),
    (["set", "{project}", "{tmp}/other.dcm", "normal"], "not an image of project"),
    (["set", "{project}", "{image}", "cat"], "no label 'cat' (labels: normal, lesion; or 'skip')"),
    (["set", "{project}", "{image}"], "give either a LABEL or --mask FILE"),
    (["set", "{project}", "{image}", "--mask", "{image}"], "a classification project has no masks"),
    (["export", "{project}", "--out", "{tmp}/e"], "no labelled images to export"),
    (["import", "{project}", "{project}"], "missing column 'path'"),
])
def test_failures_are_one_line_and_exit_2(cases, tmp_path, capsys, args, message):
    project = tmp_path / "p.mvlabels.json"
    _run(capsys, "new", project, "--task", "classification", "--classes", "normal,lesion",
         "--studies", cases / "classification", "--labels", tmp_path / "labels")
    image = sorted((cases / "classification" / "normal").glob("*.dcm"))[0]
    fill = {"tmp": tmp_path, "project": project, "image": image}
    code, out, err = _run(capsys, *[a.format(**fill) for a in args])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert message.format(**fill) in err and "Traceback" not in err


def test_segmentation_masks_from_files_are_stored_as_seg_and_export_as_pairs(cases, tmp_path,
                                                                             capsys):
    from trainer.data.datasets import discover

    project = tmp_path / "s.mvlabels.json"
    images = cases / "segmentation" / "images"
    code, out, _ = _run(capsys, "new", project, "--task", "segmentation", "--segments",
                        "lesion:#ff0000", "--studies", images, "--labels", tmp_path / "labels")
    assert code == 0 and "segmentation project" in out
    masks = cases / "segmentation" / "masks"
    rows = ["path,mask"] + [f"{p},{masks / p.stem}.png" for p in sorted(images.glob("*.dcm"))]
    (tmp_path / "masks.csv").write_text("\n".join(rows) + "\n")  # absolute paths work too
    code, out, err = _run(capsys, "import", project, tmp_path / "masks.csv")
    assert code == 0 and f"{len(rows) - 1} labels added" in out, err
    png = min(images.glob("*.png"))
    code, _, err = _run(capsys, "set", project, png, "--mask", masks / png.name)
    assert code == 2 and "a DICOM SEG needs a DICOM source image" in err
    assert len(list((tmp_path / "labels" / "masks").glob("*.dcm"))) == len(rows) - 1
    code, out, _ = _run(capsys, "export", project, "--out", tmp_path / "export")
    assert code == 0 and f"{len(rows) - 1} image/mask pairs" in out
    data = discover(tmp_path / "export")
    assert data.task == "segmentation" and len(data) == len(rows) - 1
    assert all(s.patient_id and s.patient_id.startswith("DEMO-") for s in data.samples)
