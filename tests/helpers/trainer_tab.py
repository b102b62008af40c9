"""Helpers of the Trainer tab tests: the tab, fake jobs and their events, reports, backbones.

"Fake" jobs are real queue entries (:func:`trainer.jobs.enqueue`) whose ``events.jsonl``
the test writes itself, marked running under this test's own process id (alive, so the
queue does not declare them dead).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

LISTING_TIMEOUT_MS = 20000


def make_tab(qtbot, settings, models_changed=None):
    from medview.qt.trainer_tab.tab import TrainerTab

    tab = TrainerTab(settings, models_changed)
    qtbot.addWidget(tab)
    tab.resize(1400, 900)
    tab.show()
    qtbot.waitExposed(tab)
    return tab


def wait_listed(qtbot, tab, n: int | None = None) -> None:
    """Wait until the queue listing shows ``n`` jobs (or the next listing)."""
    if n is None:
        with qtbot.waitSignal(tab.jobsListed, timeout=LISTING_TIMEOUT_MS):
            tab.refresh_jobs()
        return
    tab.refresh_jobs()
    qtbot.waitUntil(lambda: len(tab.queue.rows) == n, timeout=LISTING_TIMEOUT_MS)


def fake_job(demo: Path, state: str = "running", name: str = "fake") -> object:
    """A queue entry whose events the test writes (see the module docstring)."""
    from trainer import jobs

    info = jobs.enqueue({"name": name, "version": "1.0.0", "dataset": str(demo / "classification"),
                         "model": {"architecture": "mobilenet_v3_small"}})
    if state == "running":
        jobs.write_state(info.folder, "running", pid=os.getpid(), reason=None)
    elif state != "queued":
        jobs.write_state(info.folder, state, reason=None, ended=True)
    return jobs.get(info.id)


class EventWriter:
    """Append protocol lines to a job's ``events.jsonl`` as the trainer would."""

    def __init__(self, info) -> None:
        self.path = Path(info.events_file)
        self.job = info.id

    def write(self, event) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(event.to_json() + "\n")

    def raw(self, text: str) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(text)


def started(job: str, n: int = 12):
    from trainer import events as ev

    return ev.JobStarted(job=job, task="classification", model="mobilenet_v3_small",
                         dataset={"n_samples": n, "counts": {"lesion": n // 2, "normal": n // 2}},
                         split={"train": 8, "val": 2, "test": 2}, device="cpu")


def binary_report(y, scores, threshold: float = 0.5, classes=("lesion", "normal")) -> dict:
    """A classification ``evaluation.json`` as the trainer writes it, from labels and P(positive)."""
    import numpy as np

    from trainer import metrics as M

    y = np.asarray(y, int)
    s = np.asarray(scores, float)
    pos = classes[0]
    pred = np.where(s >= threshold, 0, 1)
    true = np.where(y == 1, 0, 1)
    cm = M.confusion_matrix(true, pred, 2)
    fpr, tpr, thr = M.roc_curve(y, s)
    sens, spec = M.sensitivity_specificity(y, s, threshold)
    return {
        "format": 1, "task": "classification", "classes": list(classes), "n_test": int(y.size),
        "positive_class": pos, "threshold": {"value": threshold, "method": "youden", "picked_on": "validation"},
        "confusion_matrix": cm.tolist(),
        "metrics": {"accuracy": float(np.mean(pred == true)), "sensitivity": sens, "specificity": spec,
                    "auc": M.roc_auc(y, s), "threshold": threshold},
        "ci95": {}, "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
                            "thresholds": [None if not np.isfinite(t) else float(t) for t in thr]},
        "predictions": [{"file": f"case{i}.dcm", "patient_id": None, "true": classes[0] if y[i] else classes[1],
                         "predicted": classes[int(pred[i])],
                         "probabilities": {classes[0]: float(s[i]), classes[1]: float(1 - s[i])}}
                        for i in range(y.size)],
        "notes": ["synthetic report for a test"],
    }


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


_TRUNKS: dict[tuple[str, int], dict] = {}


def write_test_backbone(folder: Path, name: str, architecture: str, **info) -> Path:
    """A real backbone folder (:func:`write_backbone`): small random tensors in the exact
    layout of ``architecture``, described by ``info`` (images, studies, ...)."""
    import torch

    from medview.inference.backbone_layout import expected_layout
    from medview.inference.backbones import BackboneInfo, write_backbone

    key = (architecture, 1)
    if key not in _TRUNKS:
        gen = torch.Generator().manual_seed(0)
        _TRUNKS[key] = {k: torch.ones(shape) if k.endswith("running_var") else torch.randn(shape, generator=gen) * 0.05
                        for k, shape in expected_layout(architecture, 1).items()}
    return write_backbone(folder, _TRUNKS[key], BackboneInfo(name=name, architecture=architecture, **info))


def install_backbone(isolated: Path, name: str, architecture: str, **info) -> Path:
    """:func:`write_test_backbone` into this test's user backbones folder."""
    return write_test_backbone(isolated / "user" / "backbones" / f"{name}-{info.get('version', '1')}", name,
                               architecture, **info)


def wait_dataset(qtbot, page, timeout=30000):
    """Wait until the data-set page has discovered its folder (and found no error)."""
    qtbot.waitUntil(lambda: page.dataset is not None or page.error is not None, timeout=timeout)
    assert page.error is None, page.error


#: Labels (1 = positive) and P(positive) of a 20-image binary test set for
#: :func:`binary_report`: some errors each way, so the ROC curve has a shape.
REPORT_LABELS = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
REPORT_SCORES = [0.95, 0.9, 0.8, 0.7, 0.62, 0.55, 0.4, 0.2, 0.85, 0.6,
                 0.45, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02]
