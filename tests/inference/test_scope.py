"""A model says what it is for, and refuses what it was not made for (issue 12)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from medview.core.io.folder import load_paths
from medview.inference.audit import AuditLog
from medview.inference.manifest import ManifestError, parse_manifest, read_manifest
from medview.inference.scope import IntendedInput, ImageFacts, check_scope
from tests.helpers.datafiles import demo_dx, demo_png, find
from tests.helpers.paths import SHIPPED
from tests.helpers.cli import medview_with_models as medview

CHEST = IntendedInput(modalities=("DX", "CR"), body_parts=("CHEST",), views=("PA", "AP"),
                      photometric=("MONOCHROME1", "MONOCHROME2"), image_size=(64, 4096),
                      non_dicom=True, description="chest radiographs")


def _frame(path: Path):
    library = load_paths([path])
    assert not library.skipped, library.skipped
    return library.frames()[0]


# ----------------------------------------------------------------------- the check

def test_chest_radiograph_is_inside(demo):
    facts = ImageFacts.from_frame(_frame(demo_dx(demo)))
    assert (facts.modality, facts.body_part, facts.view) == ("DX", "CHEST", "PA")
    scope = check_scope(CHEST, facts)
    assert scope.inside and scope.checked and scope.reasons == ()


@pytest.mark.parametrize("name, modality", [("MR2_UNCR.dcm", "MR"), ("CT_small.dcm", "CT")])
def test_other_modalities_are_outside_with_reasons_in_words(name, modality):
    scope = check_scope(CHEST, ImageFacts.from_frame(_frame(find(name))))
    assert not scope.inside and scope.checked
    assert f"modality {modality}, not DX/CR" in scope.reasons
    assert scope.message.startswith("This model is for chest radiographs (DX/CR, PA/AP); "
                                    "this image is a")
    assert "\n" not in scope.message


def test_a_real_chest_cr_is_inside():
    facts = ImageFacts.from_frame(_frame(find("RG1_UNCR.dcm")))
    assert (facts.modality, facts.body_part) == ("CR", "CHEST")
    assert check_scope(CHEST, facts).inside


def test_unknown_body_part_is_the_users_choice(tmp_path):
    """A CR that records no body part: refused by default, accepted when the user says so."""
    import pydicom

    ds = pydicom.dcmread(find("RG1_UNCR.dcm"))
    del ds.BodyPartExamined
    ds.save_as(tmp_path / "cr.dcm")
    facts = ImageFacts.from_frame(_frame(tmp_path / "cr.dcm"))
    assert facts.modality == "CR" and facts.body_part == ""
    refused = check_scope(CHEST, facts)
    assert not refused.inside
    assert refused.reasons == ("unknown body parts are refused for this model",)
    assert check_scope(CHEST, facts, accept_unknown_body_part=True).inside


def test_body_part_from_the_anatomic_region_when_body_part_examined_is_empty(demo, tmp_path):
    import pydicom

    ds = pydicom.dcmread(demo_dx(demo))
    del ds.BodyPartExamined  # the DX Anatomy Imaged module still says "Chest"
    ds.save_as(tmp_path / "no_bpe.dcm")
    assert ImageFacts.from_frame(_frame(tmp_path / "no_bpe.dcm")).body_part == "CHEST"


def test_plain_images_only_where_the_model_accepts_them(demo):
    facts = ImageFacts.from_frame(_frame(demo_png(demo)))
    assert not facts.is_dicom
    assert check_scope(CHEST, facts).inside
    dicom_only = check_scope(IntendedInput(modalities=("DX",)), facts)
    assert dicom_only.reasons == ("the model accepts DICOM images only",)


def test_size_and_spacing_ranges(demo):
    facts = ImageFacts.from_frame(_frame(demo_dx(demo)))
    small = check_scope(IntendedInput(image_size=(128, 4096)), facts)
    assert not small.inside and small.reasons[0].startswith("size 64×64 px")
    assert "size 64×64 px" in small.message  # not implied by the description: spelt out
    coarse = check_scope(IntendedInput(pixel_spacing_mm=(0.01, 0.05)), facts)
    assert not coarse.inside and coarse.reasons[0].startswith("pixel spacing")


def test_a_model_without_a_declaration_runs_anywhere_unchecked():
    scope = check_scope(None, ImageFacts.from_frame(_frame(find("MR2_UNCR.dcm"))))
    assert scope.inside and not scope.checked and "unchecked" in scope.message


# ----------------------------------------------------------------------- the manifest

def _manifest_data() -> dict:
    return json.loads((SHIPPED / "demo-lesion-classifier" / "model.json").read_text())


def test_shipped_demo_models_declare_chest_radiographs():
    for name in ("demo-lesion-classifier", "demo-lesion-segmenter"):
        intended = read_manifest(SHIPPED / name).intended_input
        assert intended is not None
        assert set(intended.modalities) == {"DX", "CR"} and intended.body_parts == ("CHEST",)
        assert set(intended.views) == {"PA", "AP"}
        assert intended.describe() == "chest radiographs (DX/CR, PA/AP)"


def test_intended_input_round_trips_through_the_manifest():
    manifest = parse_manifest(_manifest_data())
    assert parse_manifest(manifest.to_dict()) == manifest


def test_manifest_without_the_block_still_loads():
    data = _manifest_data()
    del data["intended_input"]
    manifest = parse_manifest(data)
    assert manifest.intended_input is None
    assert "intended_input" not in manifest.to_dict()


@pytest.mark.parametrize("field, value, message", [
    ("body_parts", ["CHEEST"], "field 'intended_input.body_parts': unknown term 'CHEEST'; "
                               "did you mean 'chest'?"),
    ("modalities", ["MRI"], "field 'intended_input.modalities': unknown term 'MRI'; "
                            "did you mean 'mr'?"),
    ("views", "PA", "field 'intended_input.views': must be a list"),
    ("image_size", [512, 64], "field 'intended_input.image_size': must be"),
    ("typo_field", True, "field 'intended_input.typo_field': unknown field"),
])
def test_bad_declarations_name_the_field(field, value, message):
    data = copy.deepcopy(_manifest_data())
    data["intended_input"][field] = value
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_manifest(data)


def test_terms_are_normalised():
    data = _manifest_data()
    data["intended_input"]["body_parts"] = ["chest", " Chest "]
    assert parse_manifest(data).intended_input.body_parts == ("CHEST",)


# ----------------------------------------------------------------------- the CLI

def test_cli_refuses_mr_and_ct_and_analyzes_a_chest_dx(shipped, demo):
    mr, ct, dx = find("MR2_UNCR.dcm"), find("CT_small.dcm"), demo_dx(demo)
    refused = medview("analyze", "--model", "demo-lesion-classifier", "--engine", "torch",
                      mr, ct)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 2
    for line, path, what in zip(lines, (mr, ct), ("an MR", "a CT")):
        assert line.startswith(f"medview: {path}: This model is for chest radiographs "
                               f"(DX/CR, PA/AP); this image is {what}")
        assert line.endswith("Use --outside-scope to analyse it anyway.")

    ok = medview("analyze", "--model", "demo-lesion-classifier", "--engine", "torch", dx)
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["scope"] == {"inside": True, "checked": True, "reasons": []}


def test_outside_scope_runs_marks_the_line_and_the_audit_log(shipped):
    mr = find("MR2_UNCR.dcm")
    proc = medview("analyze", "--model", "demo-lesion-classifier", "--engine", "torch",
                   "--outside-scope", mr)
    assert proc.returncode == 0, proc.stderr
    scope = json.loads(proc.stdout)["scope"]
    assert scope["inside"] is False and scope["overridden"] is True
    assert "modality MR, not DX/CR" in scope["reasons"]
    record = AuditLog(shipped / "user" / "audit.jsonl").read()[-1]
    assert record["run_anyway"] is True and record["inside_scope"] is False
