"""Write docs/screenshot_trainer.png: the Trainer tab after a short real run on demo data.

    python tests/qt/trainer_tab/screenshot_trainer.py [--epochs 8] [--out docs/screenshot_trainer.png]

Runs offscreen unless a display is set; data, queue and registry go to a temp dir. Also
writes ``<out stem>_setup.png`` (the new-job page with the data set preview) next to a
temp copy, for review. Takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def spin(app, seconds: float, until=None) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.01)
    if until is not None:
        raise TimeoutError("timed out")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--images", type=int, default=80, help="demo images per class")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot_trainer.png"))
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="medview-trainer-shot-"))
    os.environ["MEDVIEW_USER_DIR"] = str(tmp / "user")
    os.environ["MEDVIEW_MODELS_DIR"] = str(tmp / "shipped")

    from medview.qt.app import create_app
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    app = create_app()
    win = MainWindow(settings=Settings(tmp / "medview.ini"))
    win.resize(1600, 1000)
    win.browser_dock.hide()   # View ▸ Panels: more room for the charts
    win.analysis_dock.hide()
    win.show()
    win.open_trainer()
    spin(app, 20, until=lambda: win.trainer_tab.tab is not None)
    tab = win.trainer_tab.tab
    page, form = tab.dataset_page, tab.setup_form
    page.create_demo(tmp / "medview-demo-data", n=args.images)
    spin(app, 600, until=lambda: page.dataset is not None and page.split is not None)
    spin(app, 30, until=lambda: all(c.pixmap() is not None and not c.pixmap().isNull()
                                    for cells in page.thumbs.values() for c in cells))
    form.select_model({"architecture": "auto"})  # the default: a lesion map, the demo set having masks
    form.set_preset("advanced")
    form.name_edit.setText("demo-chest")
    form.version_edit.setText("1.0.0")
    for key, value in {"epochs": args.epochs, "lr": 0.003, "workers": 0, "input.channels": 1,
                       "card.demo": True}.items():  # lr: the recipe's for a lesion map
        form.set_field(key, value)
    # the demo models' recipe (scripts/train_demo_models.py): contrast-limited equalisation helps
    form.extra_edit.setText('{"preprocessing": {"window": "auto", "resize": "letterbox", '
                            '"clahe": {"clip_limit": 2.0, "tile_grid": [8, 8]}}}')
    spin(app, 10, until=lambda: form.validate_now() is None)
    spin(app, 1)
    setup_shot = Path(tempfile.gettempdir()) / (Path(args.out).stem + "_setup.png")
    win.grab().save(str(setup_shot))
    tab.start_new_job()
    jp = tab.job_page
    spin(app, 60, until=lambda: jp.job_id is not None)
    spin(app, 1800, until=lambda: jp.progress.done)
    spin(app, 60, until=lambda: jp.evaluation.report is not None or jp.progress.state != "finished")
    jp.register_model(confirmed=True)  # a below-chance run would ask first; this shot shows registration
    spin(app, 120, until=lambda: jp.registered or "Not registered" in jp.use_status.text())
    spin(app, 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(args.out)
    print(f"wrote {args.out} (state {jp.progress.state}); setup page: {setup_shot}")
    tab.shutdown()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
