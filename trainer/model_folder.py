"""The run's ``model/`` folder: ``model.json``, ``weights.safetensors``, ``card.md``,
``evaluation.json`` and the charts, written beside it and swapped in as a whole.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trainer.checkpoints import write_json, write_text
from trainer.errors import write_or_fail
from trainer.run_split import sample_path

if TYPE_CHECKING:
    from trainer.epochs import Training

__all__ = ["write_model_folder"]


def write_model_folder(t: Training, manifest, card, report: dict, target: Path,
                       reference=None) -> Path:
    """Write the trained model to ``target`` (replacing an earlier one only once complete).

    Parameters
    ----------
    t : Training
        Its module (the final weights), history and test part (for the charts).
    manifest : Manifest
        The final manifest but for its card and weights, which are filled in here.
    card : ModelCard
    report : dict
        The test report; ``charts`` is added to it.
    target : Path
        The run folder's ``model/``.
    reference : medview.inference.familiarity.Reference, optional
        The training images' reference, written where the manifest's ``familiarity`` says.

    Raises
    ------
    JobFailed
        If a file cannot be written.
    """
    from medview.inference.manifest import WeightsSpec, write_manifest
    from medview.inference.weights import write_safetensors
    from trainer.register import card_text

    run_dir = target.parent
    staging = run_dir / ".model-new"
    shutil.rmtree(staging, ignore_errors=True)

    def write_all(_):
        nonlocal manifest
        staging.mkdir(parents=True)
        state = t.module.state_dict()
        if t.job.weights_precision == "float16":
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        digest = write_safetensors(state, staging / "weights.safetensors",
                                   {"medview.model": f"{manifest.name}@{manifest.version}"})
        manifest = replace(manifest, card=card, weights=WeightsSpec("weights.safetensors", digest))
        write_manifest(manifest, staging / "model.json")
        if reference is not None:
            reference.save(staging / manifest.familiarity.file)
        report["charts"] = _charts(t, staging, report)
        write_json(staging / "evaluation.json", _json_safe(report))
        write_text(staging / "card.md", card_text(manifest, report, t.job))
        old = run_dir / ".model-old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)

    try:
        write_or_fail(target, write_all)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _charts(t: Training, folder: Path, report: dict) -> dict[str, str]:
    from trainer import charts

    made = {}
    made["curves"] = charts.curves_png(t.history, None if t.monitor == "val_loss" else t.monitor,
                                       folder / "training_curves.png",
                                       f"{t.manifest.name}: training").name
    if "confusion_matrix" in report:
        sub = report.get("decision_rule", "")
        made["confusion_matrix"] = charts.confusion_png(report["confusion_matrix"], report["classes"],
                                                        folder / "confusion_matrix.png",
                                                        subtitle=_clip(sub, 70)).name
    if report.get("roc"):
        m = report["metrics"]
        point = (1 - m["specificity"], m["sensitivity"]) if m.get("specificity") is not None \
            and m.get("sensitivity") is not None else None
        made["roc"] = charts.roc_png([(report["positive_class"], report["roc"]["fpr"], report["roc"]["tpr"],
                                       m.get("auc"))], folder / "roc.png", point,
                                     f"threshold {m['threshold']:.3g}").name
    elif report.get("roc_one_vs_rest"):
        curves = [(n, c["fpr"], c["tpr"], c["auc"]) for n, c in report["roc_one_vs_rest"].items() if c]
        if curves:
            made["roc"] = charts.roc_png(curves, folder / "roc.png", title="ROC, one class vs the rest (test)").name
    test_calibration = (report.get("calibration") or {}).get("test")
    if test_calibration:
        made["reliability"] = charts.reliability_png(
            test_calibration["bins_before"], test_calibration["bins_after"],
            test_calibration["ece_before"], test_calibration["ece_after"],
            report["calibration"]["temperature"], folder / "reliability.png").name
    if t.task == "segmentation" and len(t.sources["test"]):
        made["examples"] = _examples(t, folder / "examples.png").name
    return made


def _examples(t: Training, path: Path) -> Path:
    """Up to 8 test images with their true and predicted masks."""
    import torch

    from trainer import charts

    src = t.sources["test"]
    picks = list(range(min(8, len(src))))
    images, truths, preds, captions = [], [], [], []
    with torch.inference_mode():
        for i in picks:
            image, target = src.get(i)
            out = t.module(torch.from_numpy(image[None]).to(t.device))[0]
            pred = (torch.sigmoid(out[0]) >= 0.5) if out.shape[0] == 1 else out.argmax(0) > 0
            images.append(image[0])
            truths.append(np.asarray(target))
            preds.append(pred.cpu().numpy().astype(np.uint8))
            captions.append(Path(str(sample_path(t.dataset.samples[int(src.indices[i])]))).name)
    return charts.examples_png(images, truths, preds, captions, path)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _json_safe(obj):
    """``obj`` with numpy numbers as Python ones and NaN/inf as None (JSON has neither)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj
