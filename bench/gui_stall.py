"""GUI event-loop stalls while a real training job runs, against the same app idle.

    python bench/gui_stall.py [--seconds 20] [--epochs 3] [--model resnet18] [--size 128] [--no-nice]

The Trainer tab is shown (1400×900) and a 10 ms heartbeat ``QTimer`` (precise) runs in
the GUI thread; a *stall* is how late each beat fires (gap − 10 ms). Measured twice in
one run:

1. baseline — the tab open, no job running, for ``--seconds``;
2. training — a real job started from the tab (``start_new_job``, a subprocess from
   :mod:`trainer.jobs`: demo data set, 80 images, ``--model`` from scratch at ``--size``
   px) from the click until it finishes (or ``--max-seconds``, then it is cancelled),
   while the tab tails its events and redraws the charts.

Printed: p50 / p99 / max stall of each phase (target p99 <= 50 ms while training),
events and chart points received, the CPU count and load average (another process
loading the machine shows in the baseline too). ``--no-nice`` starts the trainer at
normal priority, to see what the lower priority buys.

Runs offscreen unless a display is set. No network; data and queue go to a temp dir.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BEAT_MS = 10


class Heartbeat:
    """Lateness of a precise timer in the GUI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(BEAT_MS)
        self.timer.timeout.connect(self._beat)
        self.stalls: list[float] = []
        self._last: float | None = None

    def start(self) -> None:
        self.stalls = []
        self._last = None
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.stalls

    def _beat(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.stalls.append(max(0.0, (now - self._last) * 1000.0 - BEAT_MS))
        self._last = now


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def line(name: str, stalls: list[float], seconds: float) -> str:
    return (f"{name:<10} {len(stalls):6d} beats in {seconds:5.1f} s   p50 {pct(stalls, 50):6.1f} ms   "
            f"p99 {pct(stalls, 99):6.1f} ms   max {max(stalls) if stalls else float('nan'):7.1f} ms")


def run_for(app, seconds: float, until=None) -> float:
    """Spin the event loop for ``seconds`` (or until ``until()`` is true); returns the time spent."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        app.processEvents()
        if until is not None and until():
            break
        time.sleep(0.002)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="baseline duration")
    ap.add_argument("--max-seconds", type=float, default=240.0, help="longest training phase")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--images", type=int, default=40, help="demo images per class")
    ap.add_argument("--no-nice", action="store_true", help="start the trainer at normal priority")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="medview-gui-stall-"))
    os.environ["MEDVIEW_USER_DIR"] = str(tmp / "user")
    os.environ["MEDVIEW_MODELS_DIR"] = str(tmp / "shipped")
    from medview.core.demo_data import write_demo_data

    data = tmp / "demo"
    write_demo_data(data, n=args.images, size=max(64, args.size), seed=0)

    from PySide6.QtWidgets import QApplication

    from medview.qt.theme import apply_dark_theme

    app = QApplication.instance() or QApplication([])
    apply_dark_theme(app)
    import medview.qt.trainer_tab.tab as tab_module
    from medview.qt.settings import Settings

    if args.no_nice:
        tab_module.lower_priority = lambda pid: None
    tab = tab_module.TrainerTab(Settings(tmp / "medview.ini"))
    tab.resize(1400, 900)
    tab.show()
    run_for(app, 2.0)
    page, form = tab.dataset_page, tab.setup_form
    page.set_path(data / "labels.csv")
    run_for(app, 60.0, until=lambda: page.dataset is not None and form.task is not None)
    run_for(app, 1.0)

    beat = Heartbeat()
    beat.start()
    base_s = run_for(app, args.seconds)
    baseline = beat.stop()

    assert form.select_model({"architecture": args.model}), args.model
    form.set_preset("advanced")
    for key, value in {"epochs": args.epochs, "freeze_epochs": 0, "batch_size": 8, "workers": 0,
                       "input.size": args.size, "input.channels": 1}.items():
        form.set_field(key, value)
    run_for(app, 5.0, until=lambda: form.validate_now() is None)
    if form.error:
        print("invalid job:", form.error)
        return 1
    beat.start()
    tab.start_new_job()
    page_ = tab.job_page
    events = []
    page_.tail.events.connect(events.extend)
    train_s = run_for(app, args.max_seconds, until=lambda: page_.progress.done)
    training = beat.stop()
    state = page_.progress.state or "still running"
    if not page_.progress.done and page_.job_id:
        from trainer import jobs

        jobs.cancel(page_.job_id, timeout=10)
    print(f"gui_stall: {os.cpu_count()} CPUs, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}"
          if hasattr(os, "getloadavg") else f"gui_stall: {os.cpu_count()} CPUs")
    print(f"job: {args.model} from scratch, {2 * args.images} images at {args.size} px, {args.epochs} epochs, "
          f"trainer priority {'normal' if args.no_nice else 'nice 10'}; ended {state}; "
          f"{len(events)} events, {page_.charts.n_batches} batch and {page_.charts.n_epochs} epoch points drawn, "
          f"{page_.charts.redraws} chart redraws")
    print(line("baseline", baseline, base_s))
    print(line("training", training, train_s))
    p99 = pct(training, 99)
    print(f"target p99 <= 50 ms while training: {'met' if p99 <= 50 else 'NOT met'} ({p99:.1f} ms); "
          f"ratio of training p99 to baseline p99 {p99 / max(pct(baseline, 99), 0.1):.1f}")
    tab.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
