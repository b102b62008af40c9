"""Score a trained medview model folder on a held-out set, the way the viewer would run it.

Each held-out DICOM file is read by medview's core reader and analysed by
:class:`medview.inference.analyze.Analyzer` (torch engine, fp32, the model's own
preprocessing and decision threshold from ``model.json``), outside-scope checks
overridden (the bench data's body parts differ per image). Classification: ROC AUC of
the lesion probability and accuracy of the model's decision. Segmentation: Dice of the
lesion masks on the images' own grid, pooled over the set (as ``evaluation.json``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

__all__ = ["score_model", "POSITIVE"]

#: The finding of the bench data (class name in both tasks).
POSITIVE = "lesion"


def score_model(model_dir: Path, test: Path, task: str) -> dict[str, float]:
    """Held-out figures of the model in ``model_dir`` on ``test`` (labels CSV or pairs folder)."""
    analyzer = _analyzer(model_dir)
    if task == "classification":
        return _classification(analyzer, test)
    return _segmentation(analyzer, test)


def _analyzer(model_dir: Path):
    from medview.inference.analyze import Analyzer
    from medview.inference.registry import Registry

    # the run folder as a registry root of its own: nothing is installed anywhere
    model_dir = Path(model_dir)
    name = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))["name"]
    model = Registry([(model_dir.parent, "user")]).load(name)
    return Analyzer(model, audit=None, device="cpu", engine="torch", precision="fp32", measure=False)


def _frames(paths: list[Path]) -> dict[Path, object]:
    from medview.core.io.folder import load_paths

    library = load_paths(paths)
    if library.skipped:
        raise RuntimeError(f"held-out files unreadable: {library.skipped[:3]}")
    return {f.path.resolve(): f for f in library.frames()}


def _classification(analyzer, csv_path: Path) -> dict[str, float]:
    from trainer.metrics import roc_auc

    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    paths = [(csv_path.parent / r["path"]).resolve() for r in rows]
    frames = _frames(paths)
    truth = np.array([r["label"] == POSITIVE for r in rows])
    results = [analyzer.analyze(frames[p], outside_scope=True) for p in paths]
    scores = np.array([r.probabilities[POSITIVE] for r in results])
    decided = np.array([r.label == POSITIVE for r in results])
    return {"auc": float(roc_auc(truth.astype(int), scores)), "accuracy": float((decided == truth).mean())}


def _segmentation(analyzer, root: Path) -> dict[str, float]:
    from PIL import Image

    paths = sorted(p.resolve() for p in (root / "images").glob("*.dcm"))
    frames = _frames(paths)
    inter = total = 0
    for p in paths:
        result = analyzer.analyze(frames[p], outside_scope=True)
        pred = result.mask > 0  # one foreground class, whatever the model calls it
        truth = np.asarray(Image.open(root / "masks" / f"{p.stem}.png")) > 0
        inter += int((pred & truth).sum())
        total += int(pred.sum() + truth.sum())
    return {"dice": 2 * inter / total if total else 1.0}
