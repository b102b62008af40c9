"""A labelling project's export trains: label with ``medview labels``, export, run a tiny job."""

from __future__ import annotations

from medview.cli import main
from tests.helpers.trainer_jobs import TINY_CLASSIFIER, run_in_process, write_job


def test_exported_project_labels_train_a_classifier(demo, tmp_path, isolated, capsys):
    project = tmp_path / "chest.mvlabels.json"
    assert main(["labels", "new", str(project), "--task", "classification", "--classes",
                 "normal,lesion", "--studies", str(demo / "classification"),
                 "--labels", str(tmp_path / "labels")]) == 0
    assert main(["labels", "import", str(project), str(demo / "labels.csv")]) == 0
    assert main(["labels", "export", str(project), "--out", str(tmp_path / "export")]) == 0
    capsys.readouterr()
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(tmp_path / "export" / "labels.csv"))
    code, events, _ = run_in_process(job)
    assert code == 0, [e for e in events if e.type in ("error", "log")][-3:]
    started = next(e for e in events if e.type == "job_started")
    assert started.dataset["classes"] == ["lesion", "normal"] and sum(started.split.values()) == 24
    assert started.dataset["split_by"] == "patient"  # the labels carried every patient ID
    assert events[-1].type == "finished"
