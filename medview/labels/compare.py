"""Two models side by side on a project's held-out labelled cases, before one is registered.

The cases (:func:`held_out_cases`) are labelled images that neither model trained on, as
far as the project can tell: those of the project's held-out patients
(:mod:`medview.labels.heldout`, kept out of every training export, so a model of an
earlier round has not seen them either), minus any image in a compared training run's
training or validation part (its ``split.json``). Only when none is left does the run's
own test part serve instead, with a note (the model in use may have trained on those).
Both models run on exactly these cases, from their ONNX graphs
(:func:`medview.analysis.labelling.run_cases`); :func:`summarise` turns their results
into the figures.

Figures: classification — ROC AUC (binary: of the positive class; more classes: macro
one-vs-rest) and accuracy of the model's own decision; segmentation — Dice pooled over
the cases. Each with a 95 % interval from a bootstrap over patients, and the second
model's figure minus the first's with its paired interval (same resamples). Cases where
the two decide differently (classification) or whose Dice differs by at least
:data:`DICE_GAP` are listed, largest difference first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medview.labels.files import LabelsError
from medview.labels.heldout import is_held_out, patient_key
from medview.labels.images import ProjectImage
from medview.labels.store import LABELLED, MASK

__all__ = ["Case", "Metric", "Comparison", "held_out_cases", "summarise", "figure",
           "DICE_GAP"]

#: Cases whose Dice under the two models differs by at least this are listed.
DICE_GAP = 0.1
_RESAMPLES = 2000


@dataclass(frozen=True)
class Case:
    """One held-out case and what each model made of it.

    Attributes
    ----------
    image : ProjectImage
    truth : str
        The class (segmentation: the segments of the mask, comma-separated).
    answers : tuple of str
        Each model's decision (segmentation: its segments found).
    scores : tuple of float
        Each model's probability of the positive class (more classes: of the true
        class); segmentation: the case's Dice.
    patient : str
    """

    image: ProjectImage
    truth: str
    answers: tuple[str, ...]
    scores: tuple[float, ...]
    patient: str = ""


@dataclass(frozen=True)
class Metric:
    """One figure of both models, with 95 % intervals, and the second minus the first."""

    name: str
    values: tuple[float | None, ...]
    intervals: tuple[tuple[float, float] | None, ...]
    difference: float | None
    difference_interval: tuple[float, float] | None


@dataclass
class Comparison:
    """The outcome of :func:`compare`.

    Attributes
    ----------
    task : str
    models : list of str
        ``name version`` of each model, in the order given.
    cases : list of Case
    metrics : list of Metric
    notes : list of str
        How the cases were chosen, and images left out (with why).
    """

    task: str
    models: list[str]
    cases: list[Case]
    metrics: list[Metric]
    notes: list[str] = field(default_factory=list)

    def disagreements(self) -> list[Case]:
        """Cases the two models decide differently (segmentation: Dice apart by
        :data:`DICE_GAP`), the largest difference of scores first."""
        if self.task == "classification":
            found = [c for c in self.cases if len(set(c.answers)) > 1]
        else:
            found = [c for c in self.cases if abs(c.scores[0] - c.scores[1]) >= DICE_GAP]
        return sorted(found, key=lambda c: -abs(c.scores[0] - c.scores[1]))

    def lines(self) -> list[str]:
        """The figures as text: a header, one line per metric, the disagreements."""
        a, b = self.models
        width = max(len(a), len(b), 12)
        out = [f"{len(self.cases)} held-out cases of {len({c.patient for c in self.cases})} "
               f"patients", f"{'':<10}  {a:<{width}}  {b:<{width}}  {'B - A':<20}"]
        for m in self.metrics:
            cells = [figure(v, ci) for v, ci in zip(m.values, m.intervals)]
            diff = figure(m.difference, m.difference_interval, signed=True)
            out.append(f"{m.name:<10}  {cells[0]:<{width}}  {cells[1]:<{width}}  {diff}")
        found = self.disagreements()
        out.append(f"{len(found)} cases where they disagree" + (":" if found else ""))
        score = "p" if self.task == "classification" else "dice"
        for c in found:
            out.append(f"  {c.image.describe()}  truth {c.truth or '-'}; "
                       f"A {c.answers[0] or '-'} ({score} {c.scores[0]:.2f}), "
                       f"B {c.answers[1] or '-'} ({score} {c.scores[1]:.2f})")
        return out

    def to_json(self) -> dict:
        """Everything as plain JSON (``medview labels compare --json``; the viewer's dialog)."""
        return {"task": self.task, "models": self.models, "notes": self.notes,
                "metrics": [{"name": m.name, "values": list(m.values),
                             "intervals": [list(ci) if ci else None for ci in m.intervals],
                             "difference": m.difference,
                             "difference_interval": list(m.difference_interval)
                             if m.difference_interval else None} for m in self.metrics],
                "cases": [{"id": c.image.id, "path": str(c.image.path), "frame": c.image.frame,
                           "sop_instance_uid": c.image.sop_instance_uid,
                           "patient": c.patient, "truth": c.truth, "answers": list(c.answers),
                           "scores": list(c.scores)} for c in self.cases]}

    @classmethod
    def from_json(cls, data: dict) -> Comparison:
        """Read :meth:`to_json`'s form back (KeyError / TypeError when it is not one)."""
        metrics = [Metric(m["name"], tuple(m["values"]),
                          tuple(tuple(ci) if ci else None for ci in m["intervals"]),
                          m["difference"], tuple(m["difference_interval"])
                          if m["difference_interval"] else None) for m in data["metrics"]]
        cases = [Case(ProjectImage(c["id"], Path(c["path"]), int(c["frame"]),
                                   c["sop_instance_uid"], ""), c["truth"], tuple(c["answers"]),
                      tuple(float(s) for s in c["scores"]), c["patient"]) for c in data["cases"]]
        return cls(data["task"], list(data["models"]), cases, metrics, list(data["notes"]))


def figure(value: float | None, interval, signed: bool = False) -> str:
    """``0.912 [0.850, 0.960]`` (signed: ``+0.031 [-0.020, +0.080]``); ``n/a`` for None."""
    if value is None:
        return "n/a"
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    if interval is None:
        return text
    lo, hi = interval
    return f"{text} [{lo:+.3f}, {hi:+.3f}]" if signed else f"{text} [{lo:.3f}, {hi:.3f}]"


# -- the cases ---------------------------------------------------------------------------


def held_out_cases(labeller, run_dirs: list[Path]) -> tuple[list[ProjectImage], list[str]]:
    """The labelled images no compared model trained on (see the module notes).

    Parameters
    ----------
    labeller : medview.labels.labelling.Labeller
    run_dirs : list of Path
        Training runs among the compared models (their ``split.json`` is read).

    Returns
    -------
    images : list of ProjectImage
        In project order.
    notes : list of str
        How many came from where.

    Raises
    ------
    LabelsError
        If a run's ``split.json`` cannot be read.
    """
    names = labeller.project.classes if labeller.project.task == "classification" else [MASK]
    labelled = {im.id: im for im in labeller.images.images  # a class renamed since: not used
                if (lab := labeller.store.get(im.id)) is not None and lab.state == LABELLED
                and lab.value in names}
    held = {i for i, im in labelled.items()
            if is_held_out(im, labeller.store.get(i).patient_id)}
    tested, trained = set(), set()
    for run in run_dirs:
        parts = _split_parts(labeller, Path(run))
        tested |= parts["test"]
        trained |= parts["train"] | parts["val"]
    chosen = held - trained
    notes = [f"{len(chosen)} held-out cases of the project's held-out patients"]
    if held & trained:
        notes.append(f"{len(held & trained)} images of held-out patients were trained on "
                     "(an export made without --hold-out); left out")
    if not chosen and tested & labelled.keys():
        # A model trained in an earlier round of the project may have seen these: only
        # the project's held-out patients are unseen by both.
        chosen = (tested & labelled.keys()) - trained
        notes.append(f"none left: compared on the {len(chosen)} cases of the training run's "
                     "test part instead, which the model in use may have been trained on")
    return [im for i, im in labelled.items() if i in chosen], notes


def _split_parts(labeller, run: Path) -> dict[str, set[str]]:
    """Project image ids in each part of a run's ``split.json``."""
    path = run / "split.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        parts = {name: [item["file"] for item in saved["parts"][name]]
                 for name in ("train", "val", "test")}
    except FileNotFoundError:
        raise LabelsError(f"{path}: not found (a training run records its split there)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabelsError(f"{path}: cannot be read ({exc})") from None
    out = {}
    for name, files in parts.items():
        ids = set()
        for f in files:
            by_name = labeller.images.get(Path(f).stem)  # a segmentation export's copy
            found = [by_name] if by_name is not None else labeller.images.in_file(f)
            ids |= {im.id for im in found}
        out[name] = ids
    return out


# -- the comparison ----------------------------------------------------------------------


def summarise(labeller, names: list[str], manifests: list, results: list[list],
              images: list[ProjectImage], notes: list[str] | None = None) -> Comparison:
    """The comparison of two models' analysis results on ``images`` against the labels.

    Parameters
    ----------
    labeller : medview.labels.labelling.Labeller
    names : list of str
    manifests : list
        Each model's manifest (its ``name``, ``classes``).
    results : list of list
        Per model, its :class:`~medview.inference.results.ClassificationResult` (or
        segmentation result) of each image, in the order of ``images``.
    images : list of ProjectImage
    notes : list of str, optional

    Raises
    ------
    LabelsError
        If a classifier lacks one of the project's classes.
    """
    make = _classification if labeller.project.task == "classification" else _segmentation
    cases, metrics = make(labeller, manifests, results, images)
    return Comparison(labeller.project.task, list(names), cases, metrics, list(notes or []))


def _classification(labeller, manifests, results, images):
    from trainer.metrics import positive_index, roc_auc, roc_auc_ovr

    classes = labeller.project.classes
    for m in manifests:
        missing = [c for c in classes if c not in m.classes]
        if missing:
            raise LabelsError(f"model '{m.name}' has no class {', '.join(missing)} "
                              f"(its classes: {', '.join(m.classes)})")
    truth = np.array([classes.index(labeller.store.get(im.id).value) for im in images])
    probs = [np.array([[r.probabilities[c] for c in classes] for r in rs]) for rs in results]
    answers = [[r.label or "" for r in rs] for rs in results]
    pos = positive_index(classes, None)

    def auc_of(p):
        if pos is not None:
            return lambda idx: roc_auc((truth[idx] == pos).astype(int), p[idx, pos])
        return lambda idx: roc_auc_ovr(truth[idx], p[idx])

    def acc_of(ans):
        right = np.array([a == classes[t] for a, t in zip(ans, truth)], float)
        return lambda idx: float(right[idx].mean())

    cases = [Case(im, classes[t], tuple(ans[i] for ans in answers),
                  tuple(float(p[i, pos if pos is not None else t]) for p in probs),
                  _patient(labeller, im)) for i, (im, t) in enumerate(zip(images, truth))]
    groups = [c.patient for c in cases]
    auc_name = "AUC" if pos is not None else "AUC (macro)"
    metrics = [_metric(auc_name, [auc_of(p) for p in probs], len(images), groups),
               _metric("accuracy", [acc_of(a) for a in answers], len(images), groups)]
    return cases, metrics


def _segmentation(labeller, manifests, results, images):
    from medview.labels.seg import read_seg

    segments = [s.name for s in labeller.project.segments]
    inter = np.zeros((2, len(images)))
    total = np.zeros((2, len(images)))
    cases = []
    for i, im in enumerate(images):
        label = labeller.store.get(im.id)
        if label.value != MASK:
            continue
        truth = read_seg(labeller.mask_file(label)).labels > 0
        found, dice = [], []
        for k, r in enumerate(results):
            pred = _foreground(r[i], segments)
            if pred.shape != truth.shape:
                raise LabelsError(f"{im.describe()}: model '{manifests[k].name}' gave a "
                                  f"{pred.shape} mask for a {truth.shape} image")
            inter[k, i] = np.count_nonzero(pred & truth)
            total[k, i] = np.count_nonzero(pred) + np.count_nonzero(truth)
            found.append(", ".join(n for n in r[i].areas if r[i].areas[n].value > 0))
            dice.append(2 * inter[k, i] / total[k, i] if total[k, i] else 1.0)
        cases.append(Case(im, ", ".join(label.segments), tuple(found), tuple(dice),
                          _patient(labeller, im)))

    def pooled(k):
        def stat(idx):
            t = total[k, idx].sum()
            return 2 * inter[k, idx].sum() / t if t else 1.0
        return stat

    groups = [_patient(labeller, im) for im in images]
    return cases, [_metric("Dice", [pooled(0), pooled(1)], len(images), groups)]


def _foreground(result, segments: list[str]) -> np.ndarray:
    """The model's mask where it found one of the project's segments (by name; a model
    with one foreground class against a one-segment project: that class)."""
    values = [v for v, name in result.mask_values.items() if name in segments]
    if not values and len(segments) == 1 and len(result.mask_values) == 1:
        values = list(result.mask_values)
    return np.isin(result.mask, values)


def _patient(labeller, image: ProjectImage) -> str:
    label = labeller.store.get(image.id)
    return patient_key(image) if not (label and label.patient_id) else \
        f"patient:{label.patient_id}"


def _metric(name: str, stats: list, n: int, groups: list[str]) -> Metric:
    from trainer.metrics import bootstrap_intervals

    everyone = np.arange(n)
    values = []
    for stat in stats:
        try:
            values.append(float(stat(everyone)))
        except ValueError:
            values.append(None)
    both = all(v is not None for v in values)

    def diff(idx):
        return stats[1](idx) - stats[0](idx)

    cis = bootstrap_intervals([*stats, diff], n, groups, resamples=_RESAMPLES)
    return Metric(name, tuple(values), tuple(cis[:2]),
                  values[1] - values[0] if both else None, cis[2] if both else None)
