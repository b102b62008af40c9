"""int8 graphs: post-training static quantisation, kept only where the model stays as good.

A registered model's fp32 ONNX graph is quantised with ONNX Runtime's static
quantisation in QDQ form (``QuantizeLinear``/``DequantizeLinear`` pairs around each
convolution and matrix product: int8 weights per output channel, uint8 activations
whose ranges are calibrated on images). ONNX Runtime and OpenVINO both run that graph
in integer arithmetic, so one file serves both engines. No torch is needed.

Calibration uses the training job's own *validation* images, preprocessed exactly as
analysis preprocesses (:mod:`medview.inference.preprocess`); the check uses its *test*
images, which neither training nor calibration saw. The int8 graph is kept only if

* the test metric (AUC for classifiers, pooled foreground Dice for segmenters) drops by
  at most :data:`METRIC_DROP_MAX` (0.01), and
* its outputs on the test images, taken as one batch, agree with the fp32 graph's within
  the engine tolerances of :mod:`medview.inference.engines.precision` — the check that
  lets any engine run (classification: every probability within 0.02, after the
  manifest's temperature; segmentation: mask Dice ≥ 0.99 over all test pixels). A
  per-image mask Dice would refuse any model over a few small lesions, where one pixel
  more or less moves that image's Dice by 0.3; such images are counted instead.

Labels near the threshold. With probabilities within 0.02, a label can change only for an
image within 0.02 of its class's threshold, where the fp32 label is no surer than the
int8 one (the threshold is itself an estimate from the validation images). Such changes
are counted (``label_changes``) and reported, and do not by themselves refuse the int8
graph; the same tolerance already decides whether bf16 may run.

Where the int8 graph is kept, the engine choice measures it beside the fp32 engines
(:func:`medview.inference.engines.create_graph_engine`) and runs it when it is faster.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.core.imports import load
from medview.inference.manifest import Int8Spec, Manifest, ModelError

METHOD = "onnxruntime-qdq"
#: the most the test AUC / Dice may drop for the int8 graph to be kept
METRIC_DROP_MAX = 0.01


class QuantizeError(ModelError):
    """The int8 graph cannot be made (the message names the model and why)."""


def quantize_graph(graph: str | Path, target: str | Path, calibration: Sequence[np.ndarray],
                   model: str = "?") -> Path:
    """Write the int8 (QDQ) version of an fp32 ONNX graph, calibrated on ``calibration``.

    Parameters
    ----------
    graph : path-like
        The fp32 graph (``model.onnx``).
    target : path-like
        Where the int8 graph goes (written atomically).
    calibration : sequence of numpy.ndarray
        Preprocessed ``C×H×W`` float32 images, each run once to record activation ranges.
    model : str
        The model's name, for messages.

    Returns
    -------
    pathlib.Path
        ``target``.

    Raises
    ------
    QuantizeError
        Without calibration images, or when ONNX Runtime cannot quantise the graph.
    """
    if not len(calibration):
        raise QuantizeError(f"model '{model}': no calibration images; int8 needs the job's "
                            "validation images")
    from medview.inference.engines.onnxruntime_engine import _ort

    _ort()  # its telemetry off before the quantisation tools load it
    try:
        q = load("onnxruntime.quantization")
    except ImportError as err:  # a build without ONNX Runtime's offline tools
        raise QuantizeError(f"model '{model}': ONNX Runtime's quantisation tools are not "
                            f"installed ({err})") from None
    target = Path(target)
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=target.parent) as tmp:
        prepared, out = Path(tmp) / "prepared.onnx", Path(tmp) / target.name
        try:
            # Folds the float16 → float32 Casts and batch norms into plain float32 weights,
            # so each convolution's weight is an initializer the quantiser can see.
            q.quant_pre_process(str(graph), str(prepared), skip_symbolic_shape=True)
            q.quantize_static(str(prepared), str(out), _reader(prepared, calibration),
                              quant_format=q.QuantFormat.QDQ, per_channel=True,
                              activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                              calibrate_method=q.CalibrationMethod.MinMax,
                              nodes_to_exclude=end_layers(prepared))
        except Exception as err:  # noqa: BLE001 - ORT and onnx raise many types
            raise QuantizeError(f"model '{model}': ONNX Runtime could not quantise its graph "
                                f"({type(err).__name__}: {' '.join(str(err).split())[:300]})"
                                ) from None
        os.replace(out, target)
    return target


#: the operators whose weights int8 quantises (the layers that cost the time)
WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def end_layers(graph: str | Path) -> list[str]:
    """The weighted layers that read the input image and that make each output.

    They stay in float32: the first layer sees raw intensities and the last one makes the
    logits, and rounding either moved the demo classifier's probabilities by up to 0.056
    (beyond the 0.02 tolerance) against 0.0096 with both kept in float32, for a few
    percent of the work (one input channel; one linear layer or 1×1 head).
    """
    graph_proto = load("onnx").load(str(graph)).graph
    producer = {out: n for n in graph_proto.node for out in n.output}
    consumers: dict[str, list] = {}
    for n in graph_proto.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    found: dict[str, None] = {}  # ordered set

    def walk(todo: list, step) -> None:
        seen = set()
        while todo:
            node = todo.pop()
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            if node.op_type in WEIGHT_OPS:
                found[node.name] = None
            else:
                todo.extend(step(node))

    walk([producer.get(o.name) for o in graph_proto.output],
         lambda n: [producer.get(i) for i in n.input])
    walk([c for i in graph_proto.input for c in consumers.get(i.name, [])],
         lambda n: [c for o in n.output for c in consumers.get(o, [])])
    return list(found)


def _reader(graph: Path, images: Sequence[np.ndarray]):
    """ONNX Runtime's calibration reader over ``images``, fed one at a time."""
    ort = load("onnxruntime")
    name = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Images(load("onnxruntime.quantization").CalibrationDataReader):
        def __init__(self) -> None:
            self._images = iter(images)

        def get_next(self):
            image = next(self._images, None)
            return None if image is None else {name: np.ascontiguousarray(image[None], np.float32)}

    return Images()


def graph_logits(graph: str | Path, images: Sequence[np.ndarray], task: str,
                 precision: str = "fp32") -> np.ndarray:
    """The logits of ``graph`` for each image, run one at a time by ONNX Runtime.

    Parameters
    ----------
    graph : path-like
    images : sequence of numpy.ndarray
        Preprocessed ``C×H×W`` images of one shape.
    task : {"classification", "segmentation"}
    precision : str
        What the graph computes in (a label for the engine).

    Returns
    -------
    numpy.ndarray
        ``N×K`` or ``N×K×H×W`` float32.
    """
    from medview.inference.engines.base import physical_cores
    from medview.inference.engines.onnxruntime_engine import OnnxRuntimeEngine

    engine = OnnxRuntimeEngine(graph, tuple(images[0].shape), task, threads=physical_cores(),
                               precision=precision)
    try:
        return np.stack([engine.run(image[None])[0] for image in images])
    finally:
        engine.close()


@dataclass(frozen=True)
class OutputAgreement:
    """How far the int8 outputs are from the fp32 outputs on the test images.

    Attributes
    ----------
    ok : bool
        Within the engine tolerance, the test images taken as one batch (the check that
        lets an engine run: probabilities within 0.02 everywhere; pooled mask Dice ≥ 0.99).
    max_probability_delta : float
        Largest probability difference (every class, pixel and image).
    label_changes : int
        Classification: images whose label differs. Segmentation: images whose own mask
        agrees with the fp32 mask below Dice 0.99 (small lesions, where a few pixels
        weigh much, make most of them).
    detail : str
        The tolerance check's one line.
    """

    ok: bool
    max_probability_delta: float
    label_changes: int
    detail: str


def compare_outputs(fp32: np.ndarray, int8: np.ndarray, manifest: Manifest) -> OutputAgreement:
    """Compare int8 with fp32 logits of the test images with the engine tolerances.

    Classifier logits are divided by the manifest's temperature first, so the
    probabilities compared are those a user sees.
    """
    from medview.inference.analyze import classification_fields
    from medview.inference.engines.precision import compare

    if manifest.task == "classification":
        t = manifest.temperature
        changes = sum(classification_fields(a, manifest)["label"] != classification_fields(b, manifest)["label"]
                      for a, b in zip(fp32, int8))
        check = compare(fp32 / t, int8 / t, manifest.task)
    else:
        changes = sum(not compare(a[None], b[None], manifest.task).ok for a, b in zip(fp32, int8))
        check = compare(fp32, int8, manifest.task)
    return OutputAgreement(bool(check.ok), float(check.max_prob_delta), int(changes), check.detail)


def refusal(task: str, fp32_metric: float, int8_metric: float, agreement: OutputAgreement) -> str:
    """Why the int8 graph must not be kept ("" when it may be).

    Parameters
    ----------
    task : {"classification", "segmentation"}
    fp32_metric, int8_metric : float
        Test AUC (classification) or Dice (segmentation) of each graph.
    agreement : OutputAgreement
        From :func:`compare_outputs` on the same test images.
    """
    name = "AUC" if task == "classification" else "Dice"
    reasons = []
    if not np.isfinite(int8_metric) or fp32_metric - int8_metric > METRIC_DROP_MAX + 1e-9:
        reasons.append(f"test {name} drops from {fp32_metric:.4f} to {int8_metric:.4f} "
                       f"(at most {METRIC_DROP_MAX} allowed)")
    if not agreement.ok:
        reasons.append(f"outputs outside the engine tolerance of fp32 on the test images "
                       f"({agreement.detail})")
    return "; ".join(reasons)


def int8_spec(task: str, *, calibration_images: int, test_images: int, fp32_metric: float,
              int8_metric: float, agreement: OutputAgreement, file: str, sha256: str) -> Int8Spec:
    """The manifest's ``int8`` block: kept (``file`` and ``sha256``) or refused (why)."""
    reason = refusal(task, fp32_metric, int8_metric, agreement)
    return Int8Spec(calibration_images=calibration_images, test_images=test_images,
                    metric="auc" if task == "classification" else "dice",
                    fp32=round(float(fp32_metric), 6), int8=round(float(int8_metric), 6),
                    max_probability_delta=round(agreement.max_probability_delta, 6),
                    label_changes=agreement.label_changes, method=METHOD,
                    file="" if reason else file, sha256="" if reason else sha256, refused=reason)


def describe(spec: Int8Spec) -> str:
    """One line for people: what was measured and what was decided."""
    changes = (f"{spec.label_changes} label change(s)" if spec.metric == "auc" else
               f"{spec.label_changes} image(s) whose mask moved (Dice < 0.99 to fp32's)")
    figures = (f"test {'AUC' if spec.metric == 'auc' else 'Dice'} {spec.fp32:.4f} (fp32) → "
               f"{spec.int8:.4f} (int8) on {spec.test_images} images, max |Δp| "
               f"{spec.max_probability_delta:.3g}, {changes}; calibrated on "
               f"{spec.calibration_images} validation images")
    return f"int8 graph kept: {figures}" if spec.kept else f"int8 graph refused ({spec.refused}): {figures}"
