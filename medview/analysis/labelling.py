"""A model on a labelling project's images, from its ONNX graph (no torch): ranking the
unlabelled images by uncertainty, and comparing two models on the held-out cases.

The model is named as the registry names it (``NAME`` or ``NAME/VERSION``) or by a folder
(a training run's folder, or a model folder), opened as its ONNX graph, and run on each
image through :class:`medview.inference.analyze.Analyzer`'s engine with the model's own
preprocessing. The measures and figures themselves are :mod:`medview.labels.uncertainty`
and :mod:`medview.labels.compare` (no inference there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.core.errors import MedviewError
from medview.labels.files import LabelsError
from medview.labels.images import ProjectImage
from medview.labels.uncertainty import METHODS, Outputs, Ranked, order, unlabelled

__all__ = ["ModelRef", "find_model", "open_analyzer", "load_frames", "outputs", "run_all", "rank",
           "run_cases"]


@dataclass(frozen=True)
class ModelRef:
    """A model found for a project command.

    Attributes
    ----------
    spec : str
        What the user named it by.
    entry : medview.inference.registry.ModelEntry
    run_dir : Path or None
        The training run it came from (its ``split.json`` says what it trained on).
    """

    spec: str
    entry: object
    run_dir: Path | None = None

    @property
    def label(self) -> str:
        """``name version`` for tables and messages."""
        return f"{self.entry.name} {self.entry.version}"


def find_model(spec: str) -> ModelRef:
    """The model ``spec`` names: a folder holding ``model.json`` (a model folder, or a
    training run's folder with ``model/``), else a registered ``NAME[/VERSION]``.

    Raises
    ------
    LabelsError
        If there is no such model or its folder is not valid (one line, why).
    """
    from medview.inference.manifest import ModelError
    from medview.inference.registry import Registry

    path = Path(spec)
    run_dir = None
    if (path / "model" / "model.json").is_file():
        run_dir, path = path, path / "model"
    try:
        if (path / "model.json").is_file():
            registry = Registry([(path.parent.resolve(), "user")])
            entry = next((e for e in registry.entries() if e.path == path.resolve()), None)
            if entry is None or not entry.valid:
                raise LabelsError(f"{path}: {entry.error if entry else 'not a model folder'}")
            return ModelRef(spec, entry, run_dir)
        if path.exists() or any(sep in spec for sep in ("\\", "./")):
            raise LabelsError(f"{spec}: not a model folder or training run (no model.json)")
        name, _, version = spec.partition("/")
        return ModelRef(spec, Registry().find(name, version or None))
    except ModelError as err:
        raise LabelsError(str(err)) from None


def open_analyzer(ref: ModelRef):
    """An :class:`~medview.inference.analyze.Analyzer` running ``ref`` from its ONNX graph
    in ONNX Runtime on the CPU, fp32 (as the registered model will be compared and ranked
    the same way on every PC).

    Raises
    ------
    LabelsError
        If the model has no graph (made when a model is registered, or by
        ``medview labels compare`` for a training run) or it does not load.
    """
    from medview.inference.analyze import Analyzer
    from medview.inference.manifest import ModelError
    from medview.inference.registry import open_graph

    try:
        return Analyzer(open_graph(ref.entry), audit=None, device="cpu", engine="onnxruntime",
                        precision="fp32", measure=False)
    except (ModelError, ValueError) as err:
        raise LabelsError(str(err)) from None


def load_frames(images: Iterable[ProjectImage]) -> tuple[dict[tuple[str, int], object],
                                                           list[tuple[Path, str]]]:
    """The core frames of ``images`` by ``(str(path), frame)``, and the files that did not load."""
    from medview.core.io.folder import load_paths

    paths = sorted({im.path for im in images})
    library = load_paths(paths)
    return {(str(f.path), f.index): f for f in library.frames()}, list(library.skipped)


def outputs(analyzer, frame, flips: bool = False, result: bool = False) -> Outputs:
    """Run ``analyzer``'s model on ``frame`` (scope not checked: every image is ranked).

    Raises
    ------
    medview.core.errors.MedviewError
        If the image cannot be decoded or prepared, or the network answers NaN.
    """
    from medview.inference.analyze import (activate, check_finite_output, classification_fields,
                                           prepare)

    manifest = analyzer.manifest
    pre = prepare(frame, manifest)
    batch = [pre.image]
    if flips:
        batch.append(pre.image[..., ::-1])
    logits = np.stack([analyzer.engine.run(np.ascontiguousarray(x)[None])[0] for x in batch])
    check_finite_output(logits, manifest)
    if manifest.task == "classification":
        variants = [np.array(list(classification_fields(x, manifest)["probabilities"].values()))
                    for x in logits]
    else:
        variants = [activate(x, manifest.activation) for x in logits]
        if flips:
            variants[1] = variants[1][..., ::-1]
    if manifest.activation == "sigmoid":  # each class yes/no: a distribution over (yes, no)
        variants = [np.stack([v, 1.0 - v]) for v in variants]
    done = analyzer.analyze(frame, pre, outside_scope=True) if result else None
    return Outputs(variants, done)


def run_all(analyzer, images: list[ProjectImage], frames: dict, *, flips: bool = False,
            result: bool = False, progress: Callable[[int, int], None] | None = None,
            cancelled: Callable[[], bool] | None = None
            ) -> tuple[dict[str, Outputs], list[str]]:
    """:func:`outputs` of every image that loaded; and one line per image that failed."""
    done: dict[str, Outputs] = {}
    failed = []
    for k, im in enumerate(images):
        if cancelled is not None and cancelled():
            break
        frame = frames.get((str(im.path), im.frame))
        if frame is None:
            failed.append(f"{im.describe()}: did not load")
            continue
        try:
            done[im.id] = outputs(analyzer, frame, flips, result)
        except MedviewError as err:
            failed.append(str(err))
        if progress is not None:
            progress(k + 1, len(images))
    return done, failed


def rank(labeller, analyzer, method: str = METHODS[0], limit: int | None = None,
         frames: dict | None = None,
         progress: Callable[[int, int], None] | None = None,
         cancelled: Callable[[], bool] | None = None) -> tuple[list[Ranked], list[str]]:
    """The project's unlabelled images, most uncertain first.

    Parameters
    ----------
    labeller : medview.labels.labelling.Labeller
    analyzer : medview.inference.analyze.Analyzer
        The model in use (:func:`open_analyzer`).
    method : {"flips", "entropy"}
    limit : int, optional
        Keep the first ``limit``.
    frames : dict, optional
        Core frames by ``(str(path), frame)`` (the viewer's open ones); read here if not given.
    progress, cancelled : callable, optional
        ``progress(done, total)`` after each image; ``cancelled()`` stops early.

    Returns
    -------
    ranked : list of Ranked
        Ties keep project order.
    notes : list of str
        One line per image that could not be ranked.

    Raises
    ------
    LabelsError
        If the model's task (classification or segmentation) is not the project's.
    """
    if method not in METHODS:
        raise ValueError(f"unknown uncertainty {method!r}; valid: {', '.join(METHODS)}")
    _check_task(analyzer, labeller.project)
    todo = unlabelled(labeller)
    notes: list[str] = []
    if frames is None:
        frames, skipped = load_frames(todo)
        notes += [f"{p}: {r}" for p, r in skipped]
    done, failed = run_all(analyzer, todo, frames, flips=method == "flips",
                           progress=progress, cancelled=cancelled)
    softmax = analyzer.manifest.task == "classification" and analyzer.manifest.activation == "softmax"
    classes = analyzer.manifest.classes if softmax else None
    return order(todo, done, method, classes)[:limit], notes + failed


def run_cases(labeller, analyzers: list, images: list[ProjectImage], frames: dict | None = None,
              progress: Callable[[int, int], None] | None = None
              ) -> tuple[list[list], list[ProjectImage], list[str]]:
    """Analyse the held-out cases ``images`` with each model, for
    :func:`medview.labels.compare.summarise` (which the caller runs: its figures use the
    trainer's metrics, a layer above this one).

    Parameters
    ----------
    labeller : medview.labels.labelling.Labeller
    analyzers : list of Analyzer
        The models (:func:`open_analyzer`).
    images : list of ProjectImage
        The held-out cases (:func:`medview.labels.compare.held_out_cases`).
    frames : dict, optional
        Core frames by ``(str(path), frame)``; read here if not given.
    progress : callable, optional
        ``progress(done, total)`` over all models.

    Returns
    -------
    results : list of list
        Per model, its analysis result of each kept case.
    kept : list of ProjectImage
        The cases every model analysed.
    notes : list of str
        Cases left out, and why.

    Raises
    ------
    LabelsError
        If there are no cases, no case every model could analyse, or a model's task is
        not the project's.
    """
    project = labeller.project
    notes: list[str] = []
    if not images:
        raise LabelsError(f"{project.path}: no held-out labelled cases to compare on; label "
                          "more images (about 1 in 5 patients is held out)")
    for a in analyzers:
        _check_task(a, project)
    if frames is None:
        frames, skipped = load_frames(images)
        notes += [f"not loaded: {p}: {r}" for p, r in skipped]
    done_by_model = []
    for k, a in enumerate(analyzers):
        tick = (lambda d, t, k=k: progress(k * t + d, len(analyzers) * t)) if progress else None
        done, failed = run_all(a, images, frames, result=True, progress=tick)
        notes += [f"left out: {line}" for line in failed]
        done_by_model.append(done)
    kept = [im for im in images if all(im.id in d for d in done_by_model)]
    if not kept:
        raise LabelsError(f"{project.path}: none of the {len(images)} held-out cases could be "
                          "analysed by every model")
    return [[d[im.id].result for im in kept] for d in done_by_model], kept, notes


def _check_task(analyzer, project) -> None:
    if analyzer.manifest.task != project.task:
        raise LabelsError(f"model '{analyzer.manifest.name}' does {analyzer.manifest.task}, "
                          f"project {project.path.name} {project.task}")
