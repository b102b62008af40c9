"""The model card of a trained model: what it is for, what it learnt from, how it scored."""

from __future__ import annotations

import math
from datetime import date

from trainer.monitor import kept_weights

__all__ = ["model_card"]


def model_card(job, summary, sizes: dict[str, int], parent: str, history: list[dict], best: dict,
               monitor: str, report: dict):
    """The :class:`ModelCard` written into ``model.json`` (and, as Markdown, ``card.md``).

    Parameters
    ----------
    job : Job
        Its ``card`` section, split seed and preset.
    summary : DatasetSummary
        The data set trained on.
    sizes : dict
        Images per part (``train``, ``val``, ``test``).
    parent : str
        Where the starting weights came from.
    history : list of dict
        One entry per epoch run.
    best : dict
        The best epoch (``epoch``, ``metric``).
    monitor : str
        The metric that chose it.
    report : dict
        The test report (``evaluation.json``).
    """
    from medview.inference.manifest import ModelCard

    s = summary
    counts = ", ".join(f"{k} {v}" for k, v in s.counts.items())
    training = (f"{s.n_samples} images ({counts}) of {s.n_patients} patients"
                f"{f' and {s.n_without_patient_id} images without patient ID' if s.n_without_patient_id else ''}"
                f" from {s.source}; split {s.split_description()} (seed {job.split.seed}): train {sizes['train']}, "
                f"validation {sizes['val']}, test {sizes['test']}. {parent[0].upper()}"
                f"{parent[1:]}; {len(history)} epoch(s), {kept_weights(job.final_weights, best, monitor)} "
                f"kept; preset '{job.preset}'"
                f"{_settings(job)}.")
    metrics = {f"test_{k}": float(v) for k, v in (report.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and v is not None and math.isfinite(v)}
    if report.get("n_test"):
        metrics["test_images"] = float(report["n_test"])
    limitations = [f"WARNING, {report['below_chance']}."] if report.get("below_chance") else []
    limitations += [job.card.limitations] if job.card.limitations else []
    intended = job.card.intended_use
    if job.card.demo:
        demo = "DEMO, synthetic data, not for clinical use."
        if "not for clinical use" not in intended.lower():
            intended = f"{demo} {intended}"
        limitations.append("Trained and tested on synthetic images only (medview demo-data); it knows "
                           "nothing about real patients.")
    if s.split_by != "patient":
        limitations.append(f"The split was {s.split_description()}: images of one patient may be in both "
                           "training and test, so the test numbers may be optimistic.")
    if report.get("n_test", 0) and report["n_test"] < 50:
        limitations.append(f"Tested on only {report['n_test']} images; the numbers are rough.")
    if not report.get("n_test"):
        limitations.append("Not evaluated on a held-out test set.")
    return ModelCard(intended_use=intended, training_data=training, date=date.today().isoformat(),
                     metrics=metrics, limitations=" ".join(limitations), authors=job.card.authors)


def _settings(job) -> str:
    """The settings that shaped the training, for the card (the recipe chose those the job
    left out; ``job.resolved.json`` and the report say why)."""
    if job.input_size is None and job.epochs is None:
        return ""
    size = f"input {job.input_size[0]}×{job.input_size[1]} px, " if job.input_size else ""
    budget = f", time budget {job.time_budget_minutes:g} min" if job.time_budget_minutes else ""
    return (f": {size}batch {job.batch_size}, lr {job.lr:g}, {job.epochs} epochs planned "
            f"({job.freeze_epochs} with the backbone frozen){budget}")
