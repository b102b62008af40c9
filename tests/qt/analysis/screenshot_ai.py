"""Make ``docs/screenshot_ai.png``: the AI panel with a segmentation overlay and a
classification result (with its heat map: the demo classifier's decision map) on one synthetic radiograph.

Uses the shipped demo models in ``models/`` when there are a classifier and a segmenter,
on a lesion image of the demo data set they were made for (``medview demo-data``); else
the tiny random-weight models of the tests on the bundled sample radiograph (their output
is then meaningless, and the panel says what they are). Run::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.qt.analysis.screenshot_ai [OUT.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _wait(app, cond, timeout: float = 300.0) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise TimeoutError("gave up waiting")
        app.processEvents()
        time.sleep(0.01)


def _shipped_pair():
    from medview.inference.registry import Registry, shipped_models_dir

    entries = [e for e in Registry([(shipped_models_dir(), "shipped")]).available()]
    cls = next((e for e in entries if e.manifest.task == "classification"), None)
    seg = next((e for e in entries if e.manifest.task == "segmentation"), None)
    return (cls, seg) if cls and seg else None


def _lesion_image(work: Path) -> Path:
    """The DICOM image of a small demo data set whose ground-truth lesion is largest."""
    import numpy as np
    from PIL import Image

    from medview.demo.demo_data import write_demo_data

    data = work / "demo"
    write_demo_data(data, n=20, size=256, seed=1)
    seg = data / "segmentation"
    images = sorted((seg / "images").glob("*.dcm"))
    return max(images, key=lambda p: int(np.count_nonzero(
        np.asarray(Image.open(seg / "masks" / (p.stem + ".png"))))))


def main(out: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix="medview-shot-"))
    os.environ["MEDVIEW_USER_DIR"] = str(work / "user")
    os.environ.setdefault("XDG_CACHE_HOME", str(work / "cache"))
    pair = _shipped_pair()
    image = _lesion_image(work) if pair is not None else None
    if pair is None:  # no demo models shipped yet: the test builders' random-weight models
        from tests.helpers.builders import CLASSIFIER, SEGMENTER, manifest_data, write_model

        shipped = work / "shipped"
        os.environ["MEDVIEW_MODELS_DIR"] = str(shipped)
        write_model(shipped / "chest-demo", CLASSIFIER)
        write_model(shipped / "prostate-demo",
                    manifest_data(SEGMENTER, thresholds={"prostate": 0.5}), seed=3)
        pair = _shipped_pair()
    cls, seg = pair

    from medview.qt.app import create_app, sample_paths
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    app = create_app()
    win = MainWindow(settings=Settings(work / "medview.ini"))
    win.resize(1680, 960)
    win.show()
    paths = [image] if image else [p for p in sample_paths() if Path(p).name == "chest_xray"]
    win.open_paths(paths, remember=False)
    _wait(app, lambda: not win.is_loading and win.library.series())
    win.grid.set_layout("1x2")
    series = win.library.series()[0]
    left, right = win.grid.viewports
    panel = win.analysis
    panel.overlay_check.setChecked(True)
    panel.contour_check.setChecked(False)
    panel.gradcam_check.setChecked(True)
    panel.opacity_slider.setValue(55)

    def run(vp, entry) -> None:
        win.grid.show_series(series, vp)
        _wait(app, vp.model.is_current_decoded)
        panel.picker.select(entry.name, entry.version)
        done = []
        panel.service.finished.connect(lambda r, a: done.append(a))
        panel.analyze()
        _wait(app, lambda: bool(done) or panel.state == "idle")

    run(left, seg)
    run(right, cls)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    out.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(out))
    panel.shutdown()
    win.close()
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot_ai.png"
    print(main(target))
