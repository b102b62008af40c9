"""The new-job form says what the model will be for: taken from the images' DICOM tags,
editable, and asked for when the images record nothing (issue 12)."""

from __future__ import annotations

import shutil

from tests.helpers.trainer_tab import wait_dataset


def _form_after(qtbot, tab, path):
    tab.dataset_page.set_path(path)
    wait_dataset(qtbot, tab.dataset_page)
    form = tab.setup_form
    qtbot.waitUntil(lambda: form.derived is not None, timeout=10000)
    return form


def test_derived_from_dicom_tags_editable_and_sent_with_the_job(qtbot, tab, demo):
    form = _form_after(qtbot, tab, demo / "labels.csv")
    edits = form.intended_edits
    assert (edits["modalities"].text(), edits["body_parts"].text(), edits["views"].text()) == (
        "DX", "CHEST", "PA")
    assert form.plain_images_check.isChecked()  # the demo set is half PNG
    assert "DICOM tags" in form.intended_note.text()
    edits["modalities"].setText("DX, CR")
    intended = form.job_dict()["intended_input"]
    assert intended["modalities"] == ["DX", "CR"] and intended["body_parts"] == ["CHEST"]
    assert intended["image_size"] == [32, 128]  # what the images showed, with a margin
    assert form.validate_now() is None
    edits["body_parts"].setText("CHEEST")  # a typo is caught before the job is queued
    error = form.validate_now()
    assert "intended_input.body_parts" in error and "did you mean 'chest'" in error


def test_plain_images_only_ask_what_the_model_is_for(qtbot, tab, demo, tmp_path):
    data = tmp_path / "png-only"
    for cls in ("lesion", "normal"):
        (data / cls).mkdir(parents=True)
        for p in sorted((demo / "classification" / cls).glob("*.png")):
            shutil.copy2(p, data / cls / p.name)
    form = _form_after(qtbot, tab, data)
    assert all(e.text() == "" for e in form.intended_edits.values())
    assert "record no modality or body part: say what the model is for" in \
        form.intended_note.text()
    form.intended_edits["modalities"].setText("CR")
    form.intended_edits["body_parts"].setText("chest")
    intended = form.job_dict()["intended_input"]
    assert intended["modalities"] == ["CR"] and intended["non_dicom"] is True
    assert form.validate_now() is None
