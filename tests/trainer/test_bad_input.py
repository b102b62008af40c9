"""Bad input fails (or warns) with a clear reason in a failed/log event; nothing else is touched."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np

from medview.demo import synth
from tests.helpers.trainer_jobs import TINY_CLASSIFIER, TINY_SEGMENTER, run_in_process, write_job
from trainer import events as ev
from trainer.loop import EXIT_FAILED


def _failed(events) -> ev.Failed:
    assert isinstance(events[-1], ev.Failed), [e.type for e in events]
    return events[-1]


def _logs(events, level="warning") -> str:
    return "\n".join(e.message for e in events if isinstance(e, ev.Log) and e.level == level)


def _copy_classes(demo: Path, dst: Path, classes=("lesion", "normal")) -> Path:
    for c in classes:
        shutil.copytree(demo / "classification" / c, dst / c)
    return dst


def test_one_class_only(demo, tmp_path, isolated):
    data = _copy_classes(demo, tmp_path / "data", ("normal",))
    code, events, run_dir = run_in_process(write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(data)))
    assert code == EXIT_FAILED
    assert "only one class ('normal')" in _failed(events).reason
    assert json.loads((run_dir / "state.json").read_text())["state"] == "failed"


def test_empty_class_folder_is_dropped_with_a_warning(demo, tmp_path, isolated):
    data = _copy_classes(demo, tmp_path / "data")
    (data / "effusion").mkdir()
    code, events, _ = run_in_process(write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(data)))
    assert code == 0, _failed(events).reason
    assert "class folder 'effusion' has no readable images; class dropped" in _logs(events)
    started = next(e for e in events if isinstance(e, ev.JobStarted))
    assert started.dataset["classes"] == ["lesion", "normal"]


def test_empty_class_folder_leaving_one_class_fails(demo, tmp_path, isolated):
    data = _copy_classes(demo, tmp_path / "data", ("normal",))
    (data / "lesion").mkdir()
    code, events, _ = run_in_process(write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(data)))
    assert code == EXIT_FAILED
    assert "only one class ('normal')" in _failed(events).reason
    assert "(empty class folder: lesion)" in _failed(events).reason


def test_unreadable_images_are_skipped_and_listed(demo, tmp_path, isolated):
    data = _copy_classes(demo, tmp_path / "data")
    (data / "lesion" / "broken.dcm").write_bytes(b"DICM" * 10)
    (data / "normal" / "notes.png").write_text("not a picture")
    # a DICOM whose header reads but whose pixel data is cut short: found only when decoded
    good = next((data / "lesion").glob("*.dcm"))
    cut = data / "lesion" / "truncated.dcm"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size - 2000])
    code, events, _ = run_in_process(write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(data)))
    assert code == 0, _failed(events).reason
    warnings = _logs(events)
    assert "broken.dcm" in warnings and "notes.png" in warnings and "truncated.dcm" in warnings
    started = next(e for e in events if isinstance(e, ev.JobStarted))
    listed = {Path(s["path"]).name for s in started.dataset["skipped"]}
    assert {"broken.dcm", "notes.png"} <= listed
    assert sum(started.split.values()) == 24  # the truncated file left the split too


def test_labels_csv_pointing_at_missing_files(demo, tmp_path, isolated):
    data = tmp_path / "data"
    shutil.copytree(demo / "classification", data / "classification")
    rows = (demo / "labels.csv").read_text().splitlines()
    rows += ["classification/lesion/gone_1.dcm,lesion,P-GONE", "classification/normal/gone_2.png,normal,P-GONE"]
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    code, events, _ = run_in_process(write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(data / "labels.csv")))
    assert code == 0, _failed(events).reason
    warnings = _logs(events)
    assert "gone_1.dcm: file not found (labels.csv line" in warnings and "gone_2.png" in warnings


def test_labels_csv_whose_files_are_all_missing(tmp_path, isolated):
    (tmp_path / "labels.csv").write_text("path,label\na.png,x\nb.png,y\n")
    code, events, _ = run_in_process(write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(tmp_path / "labels.csv")))
    assert code == EXIT_FAILED
    assert "labels.csv: no readable images" in _failed(events).reason


def test_mask_image_size_mismatch_is_skipped(demo, tmp_path, isolated):
    data = tmp_path / "seg"
    shutil.copytree(demo / "segmentation", data)
    victim = sorted((data / "masks").glob("*.png"))[0]
    synth.write_png(np.zeros((32, 48), np.uint8), victim)
    code, events, _ = run_in_process(write_job(tmp_path / "run", TINY_SEGMENTER, dataset=str(data)))
    assert code == 0, _failed(events).reason
    assert f"{victim.name}: mask is 32×48 but its image is 64×64" in _logs(events)


def test_missing_dataset_and_wrong_task(demo, tmp_path, isolated):
    code, events, _ = run_in_process(write_job(tmp_path / "a", TINY_CLASSIFIER, dataset=str(tmp_path / "nope")))
    assert code == EXIT_FAILED and "nope: not found" in _failed(events).reason
    code, events, _ = run_in_process(write_job(tmp_path / "b", TINY_CLASSIFIER, task="segmentation",
                                               dataset=str(demo / "labels.csv")))
    assert code == EXIT_FAILED and "task is segmentation but" in _failed(events).reason


def test_unknown_base_model_names_the_field(demo, tmp_path, isolated):
    job = dict(TINY_CLASSIFIER, model="no-such-model")
    del job["input"]
    code, events, _ = run_in_process(write_job(tmp_path / "run", job, dataset=str(demo / "labels.csv")))
    assert code == EXIT_FAILED
    assert _failed(events).reason.startswith("job field 'model': ") and "no-such-model" in _failed(events).reason


def test_disk_full_fails_cleanly_and_touches_nothing_else(demo, tmp_path, isolated, monkeypatch):
    import torch

    # A registered model and another job's files must survive.
    other = tmp_path / "other-job" / "checkpoints"
    other.mkdir(parents=True)
    (other / "last.pt").write_bytes(b"other job")
    user_models = isolated / "user" / "models" / "keep-1"
    user_models.mkdir(parents=True)
    (user_models / "model.json").write_text("{}")
    real_save = torch.save
    calls = {"n": 0}

    def full_disk(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:  # the first epoch's checkpoint fits; the second finds the disk full
            f.write(b"partial")  # the trainer saves through a Python file, which raises ENOSPC
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    code, events, run_dir = run_in_process(write_job(tmp_path / "run", TINY_CLASSIFIER, epochs=2,
                                                     dataset=str(demo / "labels.csv")))
    assert code == EXIT_FAILED
    reason = _failed(events).reason
    assert reason.startswith("disk full: could not write ") and "last.pt" in reason and "resume" in reason
    ckpt = run_dir / "checkpoints"
    assert sorted(p.name for p in ckpt.iterdir()) == ["best.safetensors", "last.pt"]  # no temp file left
    state = torch.load(ckpt / "last.pt", weights_only=True)
    assert state["epoch"] == 1  # the previous checkpoint is intact
    assert (other / "last.pt").read_bytes() == b"other job"
    assert (user_models / "model.json").read_text() == "{}"
    assert not (run_dir / "model").exists()
