"""The int8 graph of a registered model, calibrated and checked on its training run's images.

:func:`quantize_entry` reads the run's ``split.json`` (:func:`trainer.run_split.saved_split`),
preprocesses its validation images (calibration) and test images (the check) exactly as
training and analysis do (:func:`trainer.data.inputs.read_sample`), quantises the model's
fp32 graph, measures both graphs on the test images with the trainer's own metrics (AUC,
pooled foreground Dice) and records the outcome in the model's manifest: the int8 graph
with its figures when it is kept, the figures and the reason when it is refused
(:mod:`medview.inference.quantize` decides). No torch is loaded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from medview.inference.manifest import INT8_NAME, Manifest, ModelError
from trainer import metrics as M

__all__ = ["quantize_entry", "split_file", "test_metric"]


def split_file(run: str | Path) -> Path:
    """The ``split.json`` of a run folder (or the file itself)."""
    from trainer.job_common import SPLIT_NAME

    run = Path(run)
    return run / SPLIT_NAME if run.is_dir() else run


def quantize_entry(entry, run: str | Path, progress: Callable[[str], None] | None = None):
    """Quantise a registered model's graph on its run's images; keep or refuse it.

    Parameters
    ----------
    entry : medview.inference.registry.ModelEntry
        A model with an fp32 ONNX graph, in a folder medview may write.
    run : path-like
        The training run's folder (or its ``split.json``).
    progress : callable, optional
        Receives one line per step.

    Returns
    -------
    entry : ModelEntry
        The entry read again (its manifest now has the ``int8`` block).
    spec : Int8Spec
        What was decided and measured.

    Raises
    ------
    ModelError
        If the model has no graph, its classes differ from the run's, or the images
        cannot be read; :class:`~medview.inference.quantize.QuantizeError` if ONNX Runtime
        cannot quantise it.
    trainer.errors.JobFailed
        If the run's split cannot be read.
    """
    from medview.inference.quantize import compare_outputs, graph_logits, int8_spec, quantize_graph
    from medview.inference.registry import record_int8
    from medview.inference.weights import sha256_file

    say = progress or (lambda _m: None)
    manifest: Manifest = entry.manifest
    if entry.graph_path is None:
        raise ModelError(f"model '{entry.name}' has no ONNX graph to quantise; make it first "
                         "('medview models make-graph')")
    calibration, test, targets = _images(manifest, split_file(run), say)
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=entry.path) as tmp:
        int8 = quantize_graph(entry.graph_path, Path(tmp) / INT8_NAME, calibration,
                              manifest.name)
        say(f"quantised on {len(calibration)} validation images; checking on {len(test)} test images")
        fp32_logits = graph_logits(entry.graph_path, test, manifest.task)
        int8_logits = graph_logits(int8, test, manifest.task, "int8")
        spec = int8_spec(manifest.task, calibration_images=len(calibration), test_images=len(test),
                         fp32_metric=test_metric(fp32_logits, targets, manifest),
                         int8_metric=test_metric(int8_logits, targets, manifest),
                         agreement=compare_outputs(fp32_logits, int8_logits, manifest),
                         file=INT8_NAME, sha256=sha256_file(int8))
        return record_int8(entry, spec, int8 if spec.kept else None), spec


def _images(manifest: Manifest, split: Path, say) -> tuple[list, list, list]:
    """(calibration images, test images, test targets) of the run, preprocessed."""
    from trainer.data.inputs import SampleError, read_sample
    from trainer.run_split import saved_split

    ds, parts = saved_split(split)
    if ds.task != manifest.task or (ds.task == "classification"
                                    and tuple(ds.classes) != tuple(manifest.classes)):
        raise ModelError(f"model '{manifest.name}': {split} is a {ds.task} split of classes "
                         f"{', '.join(ds.classes)}, not this model's ({manifest.task}: "
                         f"{', '.join(manifest.classes)})")
    binary = ds.task == "segmentation" and len(ds.classes) == 2  # one sigmoid channel
    out: dict[str, tuple[list, list]] = {}
    for part in ("val", "test"):
        images, targets = [], []
        for i in parts[part]:
            try:
                image, target = read_sample(ds.samples[i], ds.task, manifest, binary_mask=binary)
            except SampleError as err:
                say(f"skipped {err}")
                continue
            images.append(image)
            targets.append(target)
        if not images:
            raise ModelError(f"model '{manifest.name}': no readable {part} image in {split}")
        out[part] = (images, targets)
    return out["val"][0], out["test"][0], out["test"][1]


def test_metric(logits: np.ndarray, targets: list, manifest: Manifest) -> float:
    """Test AUC (classification) or pooled foreground Dice (segmentation), as the trainer
    reports them, of a graph's logits.

    Classification: the AUC of the positive class (the one class with a threshold), else
    the macro one-vs-rest AUC. Segmentation: each pixel's label as analysis decides it on
    the input grid (the class threshold for one sigmoid channel, else the argmax).
    """
    from medview.inference.analyze import activate

    if manifest.task == "classification":
        y = np.asarray(targets, np.int64)
        probs = np.stack([activate(z / manifest.temperature, manifest.activation) for z in logits])
        positive = [manifest.classes.index(c) for c in manifest.thresholds]
        if len(manifest.classes) == 2 and len(positive) == 1:
            return float(M.roc_auc(y == positive[0], probs[:, positive[0]]))
        return float(M.roc_auc_ovr(y, probs))
    k = max(2, logits.shape[1])
    total = None
    for z, truth in zip(logits, targets):
        if z.shape[0] == 1:
            pred = (activate(z[0], "sigmoid") >= manifest.threshold(manifest.classes[0])).astype(np.int64)
        else:
            pred = z.argmax(axis=0)
        counts = M.overlap(np.asarray(truth, np.int64), pred, k)
        total = counts if total is None else total + counts
    return float(M.mean_foreground(total.dice()))

