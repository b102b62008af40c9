"""The end of a run: the best epoch's weights back, the decision threshold chosen on the
validation part, the test report, and the model folder written.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medview.inference.manifest import FamiliaritySpec
from trainer import events as ev
from trainer.chance import chance_warning
from trainer.checkpoints import BEST_NAME
from trainer.data.datasets import sample_paths
from trainer.evaluate import finite_or_none
from trainer.model_card import model_card
from trainer.model_folder import write_model_folder
from trainer.monitor import kept_name, kept_weights

if TYPE_CHECKING:
    from trainer.epochs import Training

__all__ = ["finish"]


def finish(t: Training, model_dir: Path, split_file: str) -> Path:
    """Evaluate the final model and write it to ``model_dir`` (main process only).

    Parameters
    ----------
    t : Training
        The run after :meth:`Training.fit`.
    model_dir : Path
        The run folder's ``model/`` (replaced as a whole).
    split_file : str
        Name of the run's split file, recorded in the report.

    Returns
    -------
    Path
        ``model_dir``.
    """
    import torch

    from medview.inference.weights import read_safetensors
    from trainer import evaluate as E

    # the usual layout for the evaluation, the graph export and the stored weights
    t.module.to(memory_format=torch.contiguous_format)
    best_path = t.ckpt_dir / BEST_NAME
    if t.best["epoch"] and best_path.exists():
        t.module.load_state_dict(read_safetensors(best_path, t.job.name))
        t.sink.log("info", f"final model: {kept_weights(t.job.final_weights, t.best, t.monitor)}")
    else:
        t.sink.log("warning", f"validation {t.monitor} was never measurable; the final model is the "
                              "last epoch's")
    if t.job.weights_precision == "float16":
        # Stored in half precision: round now, so the threshold and the test report are
        # those of the weights that will actually be shipped.
        with torch.no_grad():
            for v in t.module.state_dict().values():
                if v.is_floating_point():
                    v.copy_(v.half().float())
        t.sink.log("info", "weights rounded to float16 for storage; the evaluation below uses them")
    t.module.eval()
    thresholds, threshold, info, calibration = {}, 0.5, {}, None
    if t.task == "classification":
        val = E.run_model(t.module, t.sources["val"], list(range(len(t.sources["val"]))), t.criterion, t.task,
                          t.num_classes, t.per_rank_batch * 2, t.device, t.loader_workers)
        calibration = _calibrate(t, val)  # before the threshold: it applies to calibrated scores
        if t.pos is not None:
            threshold, info = E.choose_threshold(val, t.pos, t.job.threshold)
            if "note" in info:
                t.sink.log("warning", info["note"])
            thresholds = {t.dataset.classes[t.pos]: threshold}
    report, tested = _test_report(t, threshold, info, split_file, calibration)
    warning = chance_warning(t.task, t.history, t.best, t.num_classes, kept_name(t.job.final_weights))
    if warning:
        t.sink.log("warning", warning)
        report["below_chance"] = warning
    reference = _reference(t, report)
    temperature = calibration["temperature"] if calibration else 1.0
    manifest = replace(t.manifest, thresholds=thresholds, temperature=temperature,
                       intended_input=_intended_input(t),
                       familiarity=FamiliaritySpec() if reference is not None else None)
    card = model_card(t.job, t.dataset.summary, t.sizes, t.net.parent, t.history, t.best, t.monitor, report)
    write_model_folder(t, manifest, card, report, model_dir, reference)
    if tested:
        t.sink.emit(ev.Evaluation(job=t.job_id, report=str(model_dir / "evaluation.json"),
                                  metrics=E.headline(report)))
    return model_dir


def _reference(t: Training, report: dict[str, Any]):
    """The reference of the training images, its threshold set on the validation images;
    the share of test images it flags goes into the report."""
    import numpy as np

    from medview.inference.familiarity import METHOD, fit_reference, thumbnail

    def thumbnails(part: str) -> np.ndarray:
        src = t.sources[part]
        return np.array([thumbnail(src.get(i)[0]) for i in range(len(src))])

    train = thumbnails("train")
    if len(train) < 3:
        t.sink.log("warning", "too few training images to describe them: analyses of this model "
                              "cannot say when an image is unlike its training images")
        return None
    ref = fit_reference(train, thumbnails("val"))
    test = thumbnails("test")
    flagged = float(np.mean([ref.score(x) > ref.threshold for x in test])) if len(test) else None
    report["familiarity"] = {"method": METHOD, "threshold": ref.threshold,
                             "training_images": len(train), "test_flagged": flagged}
    shown = f"; it flags {flagged:.0%} of the test images" if flagged is not None else ""
    t.sink.log("info", f"reference of the {len(train)} training images stored: images scoring "
                       f"above {ref.threshold:.3g} are reported as unlike them{shown}")
    return ref


def _intended_input(t: Training):
    """The job's declaration, else the one the training images imply (their DICOM tags)."""
    from medview.inference.scope import derive_for_files

    if t.job.intended_input is not None:
        return t.job.intended_input
    intended = derive_for_files(sample_paths(t.dataset.samples))
    if not intended.modalities:
        t.sink.log("warning", "the data set holds no DICOM tags, so nothing says which modality "
                              "or body part this model is for: it will analyse any image. State "
                              "it in the job's 'intended_input' (trainer/JOBS.md)")
    else:
        t.sink.log("info", f"intended input, from the data set's DICOM tags: "
                           f"{intended.describe()}; edit 'intended_input' in model.json to change")
    return intended


def _calibrate(t: Training, val) -> dict[str, Any]:
    """Fit the temperature on the validation outputs (scaled in place); the report's block."""
    from trainer import calibration as C

    if val.n < 10 or len(set(val.labels.tolist())) < 2:
        note = (f"probabilities not calibrated: {val.n} validation image(s) of "
                f"{len(set(val.labels.tolist()))} class(es) cannot fit a temperature; 1 kept")
        t.sink.log("warning", note)
        return {"temperature": 1.0, "fitted_on": "none", "note": note}
    before = C.reliability(val.probs, val.labels)["ece"]
    temperature = C.fit_temperature(val.probs, val.labels)
    if C.too_sharp(temperature):
        note = (f"probabilities not calibrated: the model separates the {val.n} validation "
                f"images perfectly, so they cannot say how sure it should be; temperature 1 kept")
        t.sink.log("warning", note)
        return {"temperature": 1.0, "fitted_on": "none", "note": note,
                "validation": {"ece_before": before, "ece_after": before, "n": val.n}}
    val.probs = C.scale(val.probs, temperature)
    after = C.reliability(val.probs, val.labels)["ece"]
    if C.uninformative(temperature):
        t.sink.log("warning", f"calibration flattens this model's probabilities (temperature "
                              f"{temperature:.3g}): on validation its scores carry almost no "
                              "information")
    t.sink.log("info", f"probabilities calibrated on the validation split: temperature "
                       f"{temperature:.3g}, expected calibration error {before:.3f} -> {after:.3f}")
    return {"temperature": temperature, "fitted_on": "validation",
            "validation": {"ece_before": before, "ece_after": after, "n": val.n}}


def _test_calibration(calibration: dict[str, Any], out) -> dict[str, Any]:
    """Scale the test outputs in place; the reliability before and after, on the test set."""
    from trainer import calibration as C

    raw = out.probs
    out.probs = C.scale(raw, calibration["temperature"])
    before, after = C.reliability(raw, out.labels), C.reliability(out.probs, out.labels)
    return {**calibration, "test": {"ece_before": before["ece"], "ece_after": after["ece"],
                                    "bins_before": before["bins"], "bins_after": after["bins"]}}


def _test_report(t: Training, threshold: float, info: dict, split_file: str,
                 calibration: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
    """The content of ``evaluation.json``, and whether there was a test part to measure."""
    from trainer import evaluate as E

    ds = t.dataset
    src = t.sources["test"]
    source = Path(ds.summary.source)
    report: dict[str, Any] = {
        "format": 1, "job": t.job_id, "model": t.manifest.name, "version": t.manifest.version,
        "task": t.task, "classes": list(ds.classes), "date": date.today().isoformat(),
        "dataset": {"source": ds.summary.source,
                    "files_relative_to": str(source if source.is_dir() else source.parent),
                    "n_samples": ds.summary.n_samples, "n_patients": ds.summary.n_patients,
                    "counts": ds.summary.counts},
        "split": {**t.sizes, "by": ds.summary.split_by, "description": ds.summary.split_description(),
                  "seed": t.job.split.seed, "file": split_file},
        "best_epoch": t.best["epoch"], "monitor": t.monitor, "best_validation": t.best["metric"],
        "final_weights": t.job.final_weights or "best",
        "history": t.history, "parent": t.net.parent,
    }
    if t.recipe is not None:
        report["recipe"] = t.recipe.to_dict()
    if t.start_check is not None:
        report["start_check"] = t.start_check
    if calibration is not None:
        report["calibration"] = calibration
    if len(src) == 0:
        report["metrics"] = {}
        report["notes"] = ["no test set: the model was not evaluated on held-out images"]
        return report, False
    out = E.run_model(t.module, src, list(range(len(src))), t.criterion, t.task, t.num_classes,
                      t.per_rank_batch * 2, t.device, t.loader_workers)
    files = E.files_of(ds.samples, src.indices, source if source.is_dir() else source.parent)
    if t.task == "classification":
        if calibration is not None:
            report["calibration"] = _test_calibration(calibration, out)
        report.update(E.classification_report(out, list(ds.classes), t.pos, threshold, info, files))
    else:
        report.update(E.segmentation_report(out, list(ds.classes), files))
    report["n_test"] = out.n
    report["test_loss"] = finite_or_none(out.loss)
    notes = report.setdefault("notes", [])
    if out.n < 50:
        notes.append(f"the test set has only {out.n} images: treat every number here as rough "
                     "(see the 95% intervals)")
    notes.append(f"{_chosen_on_validation(t, calibration)}; the test set was used for nothing but this report")
    return report, True


def _chosen_on_validation(t, calibration) -> str:
    """What the validation set chose, for the test report's notes."""
    chosen = [what for what, yes in (
        ("the threshold", t.task == "classification" and t.pos is not None),
        ("the temperature", calibration is not None),
        ("the epoch kept", t.job.final_weights != "last"),
        ("the start (trained or random weights)", t.start_check is not None)) if yes]
    if not chosen:
        return "nothing was chosen on the validation set (the last epoch's weights are kept)"
    return (", ".join(chosen[:-1]) + " and " if len(chosen) > 1 else "") + chosen[-1] + \
        " chosen on the validation set"
