"""Next Most Useful Case (key U) in the viewer: the project's model ranks the unlabelled
images from its ONNX graph and the viewer shows the one it is least sure of; the browser's
filter lists the series holding the most useful ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from medview.labels.project import Project
from tests.helpers.trainer_files import run_model_from
from tests.helpers.qt import main_window

SHIPPED = Path(__file__).resolve().parents[3] / "models" / "demo-lesion-classifier"


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    from medview.demo.demo_data import write_demo_data

    out = tmp_path_factory.mktemp("cases") / "demo"
    write_demo_data(out, n=4, size=64, seed=4)
    return out


def test_key_u_shows_the_image_the_model_is_least_sure_of(qtbot, settings, cases, tmp_path,
                                                          isolated):
    from medview.analysis.labelling import find_model, open_analyzer, rank
    from medview.labels.labelling import Labeller

    project = Project.create(tmp_path / "chest.mvlabels.json", "classification",
                             ["normal", "lesion"], [cases / "classification"], tmp_path / "labels")
    project.model = str(SHIPPED)  # a model folder serves as the model in use
    project.save()
    labeller = Labeller.open(project.path)
    labeller.assign(labeller.images.images[0], "normal")
    expected, _ = rank(labeller, open_analyzer(find_model(str(SHIPPED))))
    with main_window(qtbot, settings) as win:
        ctl = win.labelling
        ctl.open_project(project.path)
        qtbot.waitUntil(lambda: ctl.model.labeller is not None and not win.is_loading
                        and len(win.library.frames()) == len(ctl.model.labeller.images),
                        timeout=20000)
        qtbot.keyClick(win.grid.active, Qt.Key.Key_U)
        qtbot.waitUntil(lambda: ctl.useful.ranked is not None, timeout=30000)
        assert [r.image.id for r in ctl.useful.ranked] == [r.image.id for r in expected]
        qtbot.waitUntil(lambda: ctl.model.current == expected[0].image, timeout=5000)
        frame = win.grid.active.model.frame
        assert (Path(frame.path), frame.index) == (expected[0].image.path, 0)
        qtbot.keyClick(win.grid.active, Qt.Key.Key_U)  # the next one down the ranking
        qtbot.waitUntil(lambda: ctl.model.current == expected[1].image, timeout=5000)
        ctl.panel.filter.setCurrentIndex(ctl.panel.filter.findData("useful"))
        ctl.model.set_useful({expected[0].image.id})  # as if it were the only one ranked
        listed = [s for s in win.library.series() if not win.browser.item_for(s.id).isHidden()]
        assert [any(Path(f.path) == expected[0].image.path for f in s.frames)
                for s in listed] == [True]


def test_compare_retrained_model_opens_the_dialog_on_the_held_out_cases(qtbot, settings, cases,
                                                                        tmp_path, isolated):
    """The comparison runs as ``medview labels compare`` in a subprocess (the run's model
    gets its graph there); the window shows its figures."""
    import json

    project = Project.create(tmp_path / "chest.mvlabels.json", "classification",
                             ["normal", "lesion"], [cases / "classification"], tmp_path / "labels")
    project.model = str(SHIPPED)
    project.save()
    run = tmp_path / "run"
    run_model_from(SHIPPED, run)
    (run / "split.json").write_text(json.dumps({"parts": {"train": [], "val": [], "test": []}}))
    with main_window(qtbot, settings) as win:
        ctl = win.labelling
        ctl.open_project(project.path)
        qtbot.waitUntil(lambda: ctl.model.labeller is not None and not win.is_loading,
                        timeout=20000)
        for im in ctl.model.labeller.images.images:
            ctl.model.labeller.assign(im, im.path.parent.name)
        ctl.retrained.compare(run)
        qtbot.waitUntil(lambda: ctl.retrained.dialog is not None, timeout=120000)
        dialog = ctl.retrained.dialog
        version = json.loads((SHIPPED / "model.json").read_text())["version"]
        assert dialog.comparison.models == [f"demo-lesion-classifier {version}"] * 2
        assert [dialog.figures.verticalHeaderItem(r).text() for r in range(2)] == ["AUC",
                                                                                 "accuracy"]
        assert dialog.figures.item(1, 2).text().startswith("+0.000")  # the same weights
        assert dialog.cases.rowCount() == 0 and dialog.register.isVisible()
        dialog.close()
