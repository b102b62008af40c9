"""Charts are real PNGs drawn without matplotlib or Qt, and the atomic writer leaves nothing behind."""

from __future__ import annotations

import errno
from pathlib import Path

import cv2
import numpy as np
import pytest

from trainer import charts
from trainer.checkpoints import WriteError, atomic_write, write_json


def _png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None and img.ndim == 3
    return img


def test_confusion_roc_curves_and_examples(tmp_path):
    img = _png(charts.confusion_png([[8, 2], [1, 9]], ["lesion", "normal"], tmp_path / "cm.png", subtitle="rule"))
    assert img.shape[0] > 200 and (img < 250).any()
    fpr, tpr = np.linspace(0, 1, 11), np.sqrt(np.linspace(0, 1, 11))
    _png(charts.roc_png([("lesion", fpr, tpr, 0.8)], tmp_path / "roc.png", (0.2, 0.7), "t 0.4"))
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "metrics": {"dice": 0.1 * e},
                "frozen": e <= 2} for e in range(1, 6)]
    history[2]["val_loss"] = None  # a diverged value is skipped, not drawn
    _png(charts.curves_png(history, "dice", tmp_path / "curves.png"))
    mask = np.zeros((64, 64), np.uint8)
    mask[20:40, 20:40] = 1
    _png(charts.examples_png([np.random.default_rng(0).random((64, 64))], [mask], [np.roll(mask, 3, 0)],
                             ["a.png"], tmp_path / "ex.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.png", "curves.png", "ex.png", "roc.png"]


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "state.json"
    write_json(target, {"a": 1})

    def fail(tmp):
        Path(tmp).write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError, match="disk full: could not write .*state.json"):
        atomic_write(target, fail)
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_reliability_diagram_draws_both_curves(tmp_path):
    from trainer import calibration as C

    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (400, 2))
    probs = np.exp(3 * z) / np.exp(3 * z).sum(axis=1, keepdims=True)
    labels = (rng.random(400) < np.exp(z[:, 1]) / np.exp(z).sum(axis=1)).astype(int)
    before, after = C.reliability(probs, labels), C.reliability(C.scale(probs, 3.0), labels)
    img = _png(charts.reliability_png(before["bins"], after["bins"], before["ece"], after["ece"],
                                      3.0, tmp_path / "reliability.png"))
    orange = (np.abs(img.astype(int) - charts.ORANGE).sum(axis=2) < 40).sum()
    blue = (np.abs(img.astype(int) - charts.BLUE).sum(axis=2) < 40).sum()
    assert orange > 100 and blue > 100  # both curves (and their legend swatches) are drawn


def test_cjk_class_names_are_drawn_with_their_glyphs(tmp_path):
    # OpenCV's Hershey font drew every non-ASCII character as "?": the three charts below
    # were identical. Now each character has its glyph (not the font's missing-glyph box).
    def chart(name: str) -> np.ndarray:
        return _png(charts.confusion_png([[3, 1], [0, 4]], [name, "normal"], tmp_path / "cm.png"))

    nodule = chart("肺結節")
    assert not np.array_equal(nodule, chart("\ue000\ue001\ue002"))  # private use: no glyph
    assert not np.array_equal(nodule, chart("節結肺"))  # the same characters, reordered
    assert not np.array_equal(chart("폐결절"), chart("\ue000\ue001\ue002"))  # Hangul too
    assert len(charts._clip("肺結節" * 3, 16)) == 8  # a wide character fills two columns
