"""A model's outputs on a project's images, run from its ONNX graph (no torch).

What ranks unlabelled images (:mod:`medview.labels.uncertainty`) and what compares two
models on held-out cases (:mod:`medview.labels.compare`) both start here: the model is
named as the registry names it (``NAME`` or ``NAME/VERSION``) or by a folder (a training
run's folder, or a model folder), opened as its ONNX graph, and run on each image through
:class:`medview.inference.analyze.Analyzer`'s engine with the model's own preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.core.errors import MedviewError
from medview.labels.files import LabelsError
from medview.labels.images import ProjectImage

__all__ = ["ModelRef", "find_model", "open_analyzer", "load_frames", "Outputs", "outputs", "run_all"]


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
    on the CPU (fp32, the engine chosen for it on this machine if one was measured).

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


@dataclass(frozen=True)
class Outputs:
    """One image through one model.

    Attributes
    ----------
    variants : list of numpy.ndarray
        Class probabilities at the network's input: ``(K,)`` per image for a classifier
        (calibrated, as analysis reports them), ``(K, H, W)`` for a segmenter. The first
        is the image as analysis sees it; a second, when asked for, the image flipped
        left–right (flipped back), a cheap second opinion of the same network.
    result : ClassificationResult or SegmentationResult or None
        What analysis reports for the image (its label, or mask at the image's size),
        when asked for.
    """

    variants: list[np.ndarray]
    result: object = None


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
