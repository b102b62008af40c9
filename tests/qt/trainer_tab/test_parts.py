"""Small parts: the events tail, time-left arithmetic, and what the tab's modules import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_tail_reports_bad_lines_and_starts_over_when_the_file_is_replaced(qtbot, tmp_path):
    from medview.qt.trainer_tab.event_tail import EventTail
    from trainer import events as ev

    path = tmp_path / "events.jsonl"
    tail = EventTail(interval_ms=50)
    got, bad, resets = [], [], []
    tail.events.connect(got.extend)
    tail.bad_line.connect(bad.append)
    tail.reset.connect(lambda: resets.append(1))
    tail.follow(path)  # not there yet: waits for it
    assert resets == [1] and tail.active
    lines = [ev.Log(job="j", level="info", message=f"m{i}").to_json() for i in range(3)]
    path.write_text(lines[0] + "\n" + '{"v": 2, "type": "log"}\n' + lines[1] + "\n", encoding="utf-8")
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    assert [e.message for e in got] == ["m0", "m1"] and len(bad) == 1 and "version" in bad[0]
    # replaced by a shorter file (a job folder re-created): start over
    os.remove(path)
    path.write_text(lines[2] + "\n", encoding="utf-8")
    qtbot.waitUntil(lambda: len(got) == 3, timeout=5000)
    assert got[-1].message == "m2" and len(resets) >= 2
    tail.stop()
    assert not tail.active


def test_tail_parses_a_long_backlog_in_slices(qtbot, tmp_path):
    from medview.qt.trainer_tab.event_tail import EventTail
    from trainer import events as ev

    path = tmp_path / "events.jsonl"
    line = ev.Batch(job="j", epoch=1, batch=1, batches=9, loss=0.5, images_per_s=3.0).to_json()
    path.write_text((line + "\n") * 5000, encoding="utf-8")
    tail = EventTail(interval_ms=1000, budget_ms=2.0)
    slices = []
    tail.events.connect(lambda evs: slices.append(len(evs)))
    tail.follow(path)
    assert 0 < slices[0] < 5000 and tail.backlog > 0  # the first turn stopped at its budget
    qtbot.waitUntil(lambda: sum(slices) == 5000, timeout=20000)
    assert len(slices) > 1 and tail.backlog == 0


def test_progress_eta_counts_down_from_the_trainers_estimate():
    from medview.app.job_progress import JobProgress, format_duration, parse_time
    from trainer import events as ev

    p = JobProgress()
    t = "2025-05-01T09:30:{:02d}.000+00:00"
    p.add(ev.EpochStarted(job="j", epoch=1, epochs=2, time=t.format(0)))
    p.add(ev.Batch(job="j", epoch=1, batch=2, batches=4, loss=0.5, images_per_s=8.0, time=t.format(10)))
    left, rough = p.eta(at=parse_time(t.format(10)))
    assert rough and left == pytest.approx(5 * 2 + 4 * 5)  # 5 s a batch, 2 + 4 batches to go
    p.add(ev.EpochEnd(job="j", epoch=1, epochs=2, train_loss=0.5, val_loss=0.6, metrics={}, lr=1e-3,
                      eta_s=30.0, time=t.format(20)))
    left, rough = p.eta(at=parse_time(t.format(30)))
    assert not rough and left == 20.0
    assert p.fraction() == 0.5
    p.add(ev.Finished(job="j", model="m", best_metric=None, time=t.format(50)))
    assert p.done and p.text().startswith("Finished in 50 s.") and p.eta() == (None, False)
    assert "Stopped early after epoch 1 of 2" in p.text()
    assert format_duration(3725) == "1 h 02 min" and format_duration(65) == "1 min 05 s"


def test_the_tab_modules_import_neither_torch_nor_start_up_heavy_things():
    code = ("import sys, json\n"
            "import medview.qt.trainer_tab as light\n"
            "before = sorted(m for m in ('pyqtgraph', 'torch', 'trainer') if m in sys.modules)\n"
            "import medview.qt.trainer_tab.tab\n"
            "print(json.dumps({'light': before, 'torch': 'torch' in sys.modules}))\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"light": [], "torch": False}


@pytest.mark.parametrize("span", [(0.8, 2.2), (0.5, 3.5), (1.0, 12.5), (1.0, 200.0)])
def test_epoch_axis_labels_whole_epochs_only(qtbot, span):
    from medview.qt.trainer_tab.charts import make_plot

    plot = make_plot("loss", "loss")
    qtbot.addWidget(plot)
    ticks = [v for _, values in plot.getAxis("bottom").tickValues(*span, 600) for v in values]
    assert ticks and all(float(v).is_integer() for v in ticks), ticks
