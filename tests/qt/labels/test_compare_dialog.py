"""The retrained-model comparison dialog: the figures and disagreements of a comparison,
a double-click shows the case, Register asks for registration."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from medview.labels.compare import Case, Comparison, Metric
from medview.labels.images import ProjectImage
from medview.qt.labelling.compare_dialog import CompareDialog, project_runs


def _comparison() -> Comparison:
    images = [ProjectImage(f"id{k}", Path(f"/cases/c{k}.dcm"), 0, f"1.2.{k}", f"P{k}")
              for k in range(3)]
    cases = [Case(images[0], "lesion", ("lesion", "lesion"), (0.9, 0.95), "patient:P0"),
             Case(images[1], "lesion", ("normal", "lesion"), (0.3, 0.8), "patient:P1"),
             Case(images[2], "normal", ("lesion", "normal"), (0.6, 0.2), "patient:P2")]
    metrics = [Metric("AUC", (0.5, 1.0), ((0.0, 1.0), (1.0, 1.0)), 0.5, (0.0, 1.0)),
               Metric("accuracy", (1 / 3, 1.0), (None, (1.0, 1.0)), 2 / 3, None)]
    return Comparison("classification", ["old 1", "new 2"], cases, metrics, ["3 held-out cases"])


def test_the_dialog_shows_the_figures_and_the_cases_they_disagree_on(qtbot):
    dialog = CompareDialog(_comparison())
    qtbot.addWidget(dialog)
    dialog.show()
    assert "old 1" in dialog.header.text() and "new 2" in dialog.header.text()
    cells = [[dialog.figures.item(r, c).text() for c in range(3)] for r in range(2)]
    assert cells[0] == ["0.500 [0.000, 1.000]", "1.000 [1.000, 1.000]", "+0.500 [+0.000, +1.000]"]
    assert cells[1] == ["0.333", "1.000 [1.000, 1.000]", "+0.667"]
    assert dialog.cases.rowCount() == 2  # the case both call lesion is not listed
    assert dialog.cases.item(0, 0).text() == "/cases/c1.dcm"  # the largest difference first
    assert dialog.cases.item(0, 2).text() == "normal (0.30)"
    with qtbot.waitSignal(dialog.showCase) as shown:
        at = dialog.cases.visualItemRect(dialog.cases.item(1, 1)).center()
        qtbot.mouseClick(dialog.cases.viewport(), Qt.MouseButton.LeftButton, pos=at)
        qtbot.mouseDClick(dialog.cases.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert shown.args == ["/cases/c2.dcm", 0]
    with qtbot.waitSignal(dialog.registerRequested):
        qtbot.mouseClick(dialog.register, Qt.MouseButton.LeftButton)


def test_the_project_runs_are_its_finished_jobs_newest_first(tmp_path):
    from types import SimpleNamespace

    labels = tmp_path / "labels"

    def job(name, state, dataset, ended):
        folder = tmp_path / name
        (folder / "model").mkdir(parents=True)
        return SimpleNamespace(id=name, folder=folder, state=state, job={"dataset": dataset},
                               status={"ended": ended})

    jobs = [job("a", "finished", str(labels / "exports" / "u" / "labels.csv"), "2026-01-01"),
            job("b", "finished", str(labels / "exports" / "u" / "labels.csv"), "2026-02-01"),
            job("c", "failed", str(labels / "exports" / "u" / "labels.csv"), "2026-03-01"),
            job("d", "finished", str(tmp_path / "other" / "labels.csv"), "2026-04-01")]
    project = SimpleNamespace(label_dir=labels)
    assert [i.id for i in project_runs(project, jobs)] == ["b", "a"]
