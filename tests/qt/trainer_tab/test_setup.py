"""New job: guidance without data, the data set preview and split, the form and its checks."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt

from tests.helpers.trainer_tab import make_tab, wait_dataset


def test_no_data_set_shows_guidance_and_real_buttons(qtbot, tab):
    qtbot.waitUntil(lambda: tab.stack.currentWidget() is tab.new_scroll, timeout=10000)
    page = tab.dataset_page
    assert page.guidance.isVisible() and "class folders" in page.guidance.text()
    for b in (page.folder_button, page.csv_button, page.demo_button):
        assert b.isVisible() and b.isEnabled() and b.receivers("2clicked(bool)") > 0
    assert not tab.start_button.isEnabled()
    assert "Choose the labelled images" in tab.start_note.text()


def test_create_demo_data_in_the_background_then_preview_it(qtbot, tab, tmp_path):
    page = tab.dataset_page
    out = tmp_path / "demo-out"
    page.create_demo(out, n=2, size=64)
    assert not page.demo_button.isEnabled() and page.progress.isVisible()
    qtbot.waitUntil(lambda: page.path == out / "labels.csv", timeout=60000)
    wait_dataset(qtbot, page)
    assert page.dataset.summary.counts == {"lesion": 2, "normal": 2}
    assert page.demo_button.isEnabled() and not page.guidance.isVisible()
    assert (out / "segmentation" / "masks").is_dir()
    assert page.dataset.summary.n_masks == 2  # the lesion images' masks, for the classifier to learn from


def test_preview_shows_counts_sizes_thumbnails_split_and_left_out_files(qtbot, tab, demo, tmp_path):
    from trainer.data.datasets import discover
    from trainer.data.splits import stratified_split

    data = tmp_path / "cases"
    shutil.copytree(demo / "classification", data)
    (data / "lesion" / "broken.dcm").write_bytes(b"DICM but not really")
    (data / "normal" / "notes.txt").write_text("not an image")
    page = tab.dataset_page
    page.set_path(data)
    wait_dataset(qtbot, page)
    truth = discover(data)
    table = page.class_table
    counts = {table.item(r, 0).text(): int(table.item(r, 1).text()) for r in range(table.rowCount())}
    assert counts == truth.summary.counts == {"lesion": 6, "normal": 6}
    assert "12 images" in page.summary.text() and "all 64×64" in page.summary.text()
    # every unreadable file listed with its reason
    listed = {page.problems.topLevelItem(i).text(0): page.problems.topLevelItem(i).text(1)
              for i in range(page.problems.topLevelItemCount())}
    assert any(p.endswith("broken.dcm") for p in listed) and any(p.endswith("notes.txt") for p in listed)
    assert all(reason for reason in listed.values())
    assert page.problems.isVisible()
    # thumbnails, a few per class
    qtbot.waitUntil(lambda: all(c.pixmap() is not None and not c.pixmap().isNull()
                                for cells in page.thumbs.values() for c in cells), timeout=30000)
    assert sorted(len(c) for c in page.thumbs.values()) == [6, 6]
    # the split per class, as the trainer will make it (whole patients on one side)
    qtbot.waitUntil(lambda: page.split is not None, timeout=10000)
    expected = stratified_split(truth.strata(), truth.groups(), val_fraction=0.15, test_fraction=0.15, seed=0)
    assert page.split.sizes() == expected.sizes()
    for r in range(table.rowCount()):
        parts = [int(table.item(r, c).text()) for c in (2, 3, 4)]
        assert sum(parts) == int(table.item(r, 1).text())
    # the demo's PNG files carry no patient ID: the page says the split is mixed and may leak
    n_png = truth.summary.n_without_patient_id
    assert n_png > 0
    note = page.split_note.text()
    assert f"The split is mixed: by patient, but by image for the {n_png} images without patient ID" in note
    assert "leakage" in note and "No patient is on two sides" not in note
    assert any("leakage" in page.problems.topLevelItem(i).text(1) for i in range(page.problems.topLevelItemCount()))
    # and the form now knows the task and offers classification models only
    form = tab.setup_form
    qtbot.waitUntil(lambda: form.task == "classification", timeout=5000)
    items = [form.model_combo.itemText(i) for i in range(form.model_combo.count())]
    assert any(t.startswith("resnet18") for t in items) and not any(t.startswith("unet") for t in items)


def test_segmentation_preview_counts_images_per_class(qtbot, tab, demo):
    page = tab.dataset_page
    page.set_path(demo / "segmentation")
    wait_dataset(qtbot, page)
    assert page.dataset.task == "segmentation"
    assert page.class_table.item(0, 0).text() == "background"
    qtbot.waitUntil(lambda: tab.setup_form.task == "segmentation", timeout=5000)
    assert tab.setup_form.model_spec() == {"architecture": "auto"}  # the recipe chooses (fpn)


def test_form_presets_advanced_fields_and_errors(qtbot, tab, demo):
    from trainer.config import parse_job

    page, form = tab.dataset_page, tab.setup_form
    page.set_path(demo / "labels.csv")
    wait_dataset(qtbot, page)
    qtbot.waitUntil(lambda: form.error is None and tab.start_button.isEnabled(), timeout=10000)
    # no registered model: starts from an architecture with the Full preset
    assert form.model_spec() == {"architecture": "auto"} and form.preset == "full"
    job = parse_job(form.job_dict())
    # the trainer's recipe chooses the epochs within the preset's time budget
    assert job.epochs is None and job.time_budget_minutes == 30 and job.dataset.path == str(demo / "labels.csv")
    assert form.name_edit.placeholderText() == "data-classifier"
    qtbot.mouseClick(form.preset_buttons["quick"], Qt.MouseButton.LeftButton)
    assert "10 minutes" in form.preset_help.text()
    job = parse_job(form.job_dict())
    assert job.preset == "quick" and job.time_budget_minutes == 10 and job.compare_with_scratch
    # Advanced: every field in a form, written into the job
    qtbot.mouseClick(form.preset_buttons["advanced"], Qt.MouseButton.LeftButton)
    assert form.advanced.isVisible()
    form.set_field("epochs", 3)
    form.set_field("batch_size", 4)
    form.set_field("input.size", 64)
    form.set_field("augment.vflip", True)
    form.set_field("positive_class", "lesion")
    form.set_field("split.val", "0.2")
    form.set_field("dataset.check_pixels", True)
    job = parse_job(form.job_dict())
    assert (job.epochs, job.batch_size, job.input_size, job.augment.vflip, job.positive_class) == \
        (3, 4, (64, 64), True, "lesion")
    assert job.dataset.check_pixels and job.dataset.path == str(demo / "labels.csv")
    qtbot.waitUntil(lambda: tab.dataset_page._split_args == (0.2, 0.15, 0), timeout=5000)
    # a bad value is named, and Start is off
    form.fields["lr"].clear()
    qtbot.keyClicks(form.fields["lr"], "fast")
    qtbot.waitUntil(lambda: form.error is not None and not tab.start_button.isEnabled(), timeout=5000)
    assert "'lr'" in form.error and form.error_label.isVisible()
    form.set_field("lr", "0.001")
    form.set_field("freeze_epochs", 9)
    qtbot.waitUntil(lambda: form.error is not None and "freeze_epochs" in form.error, timeout=5000)
    form.set_field("freeze_epochs", 0)
    qtbot.waitUntil(lambda: form.error is None and tab.start_button.isEnabled(), timeout=5000)


def test_registered_models_of_the_task_are_offered(qtbot, settings, demo, isolated):
    from tests.helpers.builders import CLASSIFIER, write_model

    write_model(isolated / "user" / "models" / "chest-demo", CLASSIFIER)
    tab = make_tab(qtbot, settings)
    form = tab.setup_form
    tab.dataset_page.set_path(demo / "classification")
    wait_dataset(qtbot, tab.dataset_page)
    qtbot.waitUntil(lambda: "base" in form.model_spec(), timeout=10000)
    assert form.model_combo.currentText().startswith(form.model_spec()["base"])
    assert form.preset == "quick"  # a registered model: the gentle preset by default
    tab.shutdown()


def test_base_model_with_other_classes_asks_for_a_class_map_before_starting(qtbot, settings, demo, isolated):
    """The base model knows normal/abnormal, the images are lesion/normal: the tab asks, and
    the real trainer process uses the answer (never the outputs by position)."""
    import json

    from tests.helpers.builders import CLASSIFIER, write_model
    from trainer import jobs

    write_model(isolated / "user" / "models" / "chest-demo", CLASSIFIER)  # classes normal, abnormal
    tab = make_tab(qtbot, settings)
    form = tab.setup_form
    tab.dataset_page.set_path(demo / "classification")
    wait_dataset(qtbot, tab.dataset_page)
    qtbot.waitUntil(lambda: "base" in form.model_spec(), timeout=10000)
    qtbot.waitUntil(tab.start_button.isEnabled, timeout=10000)
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    dialog = tab.class_map_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    assert jobs.list_jobs() == []  # nothing starts before the user answers
    assert dialog.class_map() == {"lesion": None, "normal": "normal"}  # by name, else fresh
    dialog.combos["lesion"].setCurrentText("abnormal")
    dialog.grab().save(str(isolated / "class_map_dialog.png"))
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(jobs.list_jobs()) == 1, timeout=20000)
    (info,) = jobs.list_jobs()
    job = json.loads((info.folder / "job.json").read_text())
    assert job["model"]["class_map"] == {"lesion": "abnormal", "normal": "normal"}

    def mapped() -> bool:
        text = info.events_file.read_text() if info.events_file.exists() else ""
        return "classes mapped by model.class_map: lesion ← abnormal, normal ← normal" in text

    qtbot.waitUntil(mapped, timeout=120000)
    jobs.cancel(info.id, timeout=60)
    tab.shutdown()


def test_declining_the_class_map_starts_nothing(qtbot, settings, demo, isolated):
    from tests.helpers.builders import CLASSIFIER, write_model
    from trainer import jobs

    write_model(isolated / "user" / "models" / "chest-demo", CLASSIFIER)
    tab = make_tab(qtbot, settings)
    tab.dataset_page.set_path(demo / "classification")
    wait_dataset(qtbot, tab.dataset_page)
    qtbot.waitUntil(lambda: "base" in tab.setup_form.model_spec(), timeout=10000)
    qtbot.waitUntil(tab.start_button.isEnabled, timeout=10000)
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(tab.class_map_dialog.isVisible, timeout=5000)
    tab.class_map_dialog.reject()
    assert "Not started" in tab.start_note.text()
    assert jobs.list_jobs() == []
    tab.shutdown()
