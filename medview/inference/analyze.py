"""One frame through one model: preprocess → engine → result at the frame's size.

Segmentation probabilities are mapped back onto the original frame (undoing
letterbox and crop) before the mask is decided, so the mask has the frame's
size and areas are counted on the frame's own pixel grid with its spacing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from medview.core.geometry import Measurement, Spacing
from medview.inference.architectures import decides_from_map
from medview.inference.audit import AuditLog
from medview.inference.manifest import Manifest, ModelError
from medview.inference.preprocess import Preprocessed, frame_input, preprocess
from medview.inference.registry import LoadedModel, ModelEntry, load_entry, load_reference, open_graph
from medview.inference.results import ClassificationResult, SegmentationResult
from medview.inference.scope import ImageFacts, OutsideScopeError, Scope, check_scope


class NonFiniteOutputError(ModelError):
    """The network answered NaN or infinity for an image: there is no result to give.

    A NaN probability fails every threshold test, so a decision rule would turn it
    into "normal"; the analysis is refused instead.
    """


def check_finite_output(logits: np.ndarray, manifest: Manifest) -> None:
    """Raise :class:`NonFiniteOutputError` if ``logits`` hold NaN or infinity."""
    logits = np.asarray(logits)
    bad = int(logits.size - np.count_nonzero(np.isfinite(logits)))
    if bad:
        raise NonFiniteOutputError(
            f"model '{manifest.name}' {manifest.version}: the network's output holds {bad} NaN "
            f"or infinite value(s) of {logits.size} for this image, so no result is given "
            "(damaged weights, or a precision too low for this input; try --precision fp32)")


def runs_on_graph(entry: ModelEntry, device: str = "auto", engine: str = "auto") -> bool:
    """Whether analysis runs ``entry`` from its ONNX graph, without torch.

    It does when the model has a graph and the analysis runs on the CPU in ONNX Runtime
    or OpenVINO: not for ``engine="torch"`` or ``device="cuda"``, nor for ``"auto"``
    where torch can use a CUDA GPU (the torch CUDA engine is then in the running; asked
    once, in the inference process: :func:`~medview.inference.engines.cuda_probe.cuda_usable`).
    """
    if entry.graph_path is None or engine == "torch" or device == "cuda":
        return False
    return not (device == "auto" and engine == "auto" and _cuda_usable())


def runs_in_worker(entry: ModelEntry, device: str = "auto", engine: str = "auto") -> bool:
    """Whether the GUI runs ``entry`` in the inference process, where torch lives.

    It does where analysis runs torch on a CUDA GPU or torch was chosen by name
    (:class:`~medview.inference.engines.process_engine.ProcessEngine`), so the GUI
    process never imports torch for them. A model without a graph (imported before
    graphs existed) on the CPU still runs in the GUI process; re-importing it gives it one.
    """
    if runs_on_graph(entry, device, engine):
        return False
    return engine == "torch" or device == "cuda" or (
        device == "auto" and engine == "auto" and _cuda_usable())


def _cuda_usable() -> bool:
    from medview.inference.engines.cuda_probe import cuda_usable

    return cuda_usable()


def open_model(entry: ModelEntry, device: str = "auto", engine: str = "auto",
               in_worker: bool = False) -> LoadedModel:
    """The model as analysis runs it: its ONNX graph where :func:`runs_on_graph` (no
    torch); its manifest and folder only for ``in_worker`` (the inference process loads
    the network); else the torch network (:func:`~medview.inference.registry.load_entry`)."""
    if runs_on_graph(entry, device, engine):
        return open_graph(entry)
    if in_worker:
        if not entry.valid:
            raise ModelError(entry.error)
        return LoadedModel(entry.manifest, None, entry.path)
    return load_entry(entry)


class Analyzer:
    """Runs one loaded model on core frames, on the engine chosen for this machine.

    Parameters
    ----------
    model : LoadedModel
        From :func:`open_model` (its ONNX graph, run without torch) or
        :meth:`medview.inference.registry.Registry.load` (the torch network).
    audit : AuditLog or None
        Where each analysis is recorded; pass None only where nothing is
        reported to a user (benchmarks, tests).
    device : {"auto", "cpu", "cuda"}
    engine : {"auto", "torch", "onnxruntime", "openvino"}
    precision : {"auto", "fp32", "bf16", "fp16"}
        ``"auto"`` lets the engine factory choose within tolerance of fp32.
    on_notice : callable, optional
        Receives one-line notices of the engine factory (e.g. a fall-back from
        the GPU to the CPU).
    measure : bool
        False: use the engine already chosen for this model on this machine, or
        else fp32 torch at once, and leave measuring the engines to
        :meth:`measure_engine` (see ``create_engine``).
    in_worker : bool
        Run the network in the inference process
        (:class:`~medview.inference.engines.process_engine.ProcessEngine`; ``model``
        from :func:`open_model` with ``in_worker=True``): torch is never imported here.
    runs : int, optional
        How many images this analyzer will analyse, when known and few (``medview
        analyze`` in a fresh process): a model's graph then runs in the engine with the
        least build + run time for that many (``create_graph_engine``).

    Raises
    ------
    ValueError, medview.inference.engines.EngineError
        For an unknown or unavailable device, engine or precision.
    """

    def __init__(self, model: LoadedModel, *, audit: AuditLog | None, device: str = "auto",
                 engine: str = "auto", precision: str = "auto",
                 on_notice: Callable[[str], None] | None = None, measure: bool = True,
                 in_worker: bool = False, runs: int | None = None) -> None:
        self.model = model
        self.runs = runs
        self.in_worker = in_worker
        self.manifest: Manifest = model.manifest
        self.audit = audit
        self._options = {"device": device, "engine": engine, "precision": precision,
                         "on_notice": on_notice}
        self.reference = load_reference(model.manifest, model.path)
        # Grad-CAM hooks the module the torch engine may be running: one at a time.
        self._lock = threading.Lock()
        self._maps = None  # the ONNX Runtime engine that computes class maps (explain)
        self.engine = self._create(model.module, measure)

    def _create(self, module, measure: bool, cancelled=None):
        if self.model.graph is not None:
            from medview.inference.engines import create_graph_engine

            options = {k: v for k, v in self._options.items() if k != "device"}
            int8 = self.manifest.int8 if self.model.int8 is not None else None
            return create_graph_engine(self.model.graph, self.model.input_shape,
                                       task=self.manifest.task, model_key=self.model.key,
                                       graph_sha256=self.manifest.onnx.sha256,
                                       int8_graph=self.model.int8,
                                       int8_sha256=int8.sha256 if int8 else "",
                                       measure=measure, cancelled=cancelled, runs=self.runs,
                                       **options)
        if self.in_worker:
            from medview.inference.engines.process_engine import ProcessEngine

            return ProcessEngine(self.manifest, self.model.path, measure=measure,
                                 cancelled=cancelled, **self._options)
        from medview.inference.engines import create_engine

        return create_engine(module, self.model.input_shape, task=self.manifest.task,
                             model_key=self.model.key, measure=measure, cancelled=cancelled,
                             **self._options)

    def measure_engine(self, cancelled: Callable[[], bool] | None = None) -> bool:
        """Measure the engines for this model (the choice is cached) and switch to the winner.

        For an analyzer made with ``measure=False`` that got the fp32 default; safe while
        other threads analyse (measuring works on a copy of the network, so Grad-CAM's hooks
        on the model never see its runs). Returns True if the engine changed.
        ``cancelled`` is polled while measuring (``selection.MeasureCancelled``).
        """
        import copy

        selected = getattr(self.engine, "selection", None) or {}
        if selected.get("source") != "default":
            return False
        if self.in_worker:  # the process measures on its own copy of the network
            return self.engine.measure(cancelled)
        module = None if self.model.graph is not None else copy.deepcopy(self.model.module)
        engine = self._create(module, True, cancelled)
        with self._lock:
            old, self.engine = self.engine, engine
        old.close()
        return True

    def scope(self, frame, accept_unknown_body_part: bool | None = None) -> Scope:
        """Is ``frame`` inside the model's declared input? (Header only: cheap.)

        Parameters
        ----------
        frame : medview.core.study.Frame
        accept_unknown_body_part : bool, optional
            The user's choice for images recording no body part (default: the manifest's).
        """
        return check_scope(self.manifest.intended_input, ImageFacts.from_frame(frame),
                           accept_unknown_body_part)

    def analyze(self, frame, pre: Preprocessed | None = None, *, outside_scope: bool = False,
                accept_unknown_body_part: bool | None = None
                ) -> ClassificationResult | SegmentationResult:
        """Analyse one frame, after checking it is inside the model's declared input.

        Parameters
        ----------
        frame : medview.core.study.Frame
        pre : Preprocessed, optional
            ``prepare(frame, manifest)`` done already (the image checked before any
            engine work); made here if not given.
        outside_scope : bool
            Run even if the image is outside the declared input ("Run anyway");
            the result's scope then says so, and the audit log records it.
        accept_unknown_body_part : bool, optional
            The user's choice for images that record no body part.

        Returns
        -------
        ClassificationResult or SegmentationResult

        Raises
        ------
        medview.inference.scope.OutsideScopeError
            If the image is outside the declared input and ``outside_scope`` is False.
        medview.core.errors.ReadError
            If the pixels cannot be decoded.
        medview.inference.preprocess.PreprocessError
            If the image cannot be prepared as the manifest asks.
        NonFiniteOutputError
            If the network answers NaN or infinity (never turned into a label).
        """
        start = time.perf_counter()
        scope = self.scope(frame, accept_unknown_body_part)
        if not scope.inside:
            if not outside_scope:
                raise OutsideScopeError(scope)
            scope = dataclasses.replace(scope, overridden=True)
        pre = pre if pre is not None else prepare(frame, self.manifest)
        familiarity = self.reference.check(pre.image) if self.reference is not None else None
        t0 = time.perf_counter()
        with self._lock:
            engine = self.engine  # measure_engine may swap it between analyses
            logits = engine.run(pre.image[None])[0]
        ms_inference = (time.perf_counter() - t0) * 1000.0
        check_finite_output(logits, self.manifest)
        if self.manifest.task == "classification":
            fields = classification_fields(logits, self.manifest)
            make = ClassificationResult
        else:
            fields = segmentation_fields(logits, pre, frame.spacing, self.manifest)
            make = SegmentationResult
        result = make(**fields, **self._provenance(frame, engine), scope=scope,
                      familiarity=familiarity, ms_inference=ms_inference,
                      ms=(time.perf_counter() - start) * 1000.0)
        if self.audit is not None:
            self.audit.record(result)
        return result

    @property
    def heatmap_method(self) -> str:
        """What :meth:`explain` shows, as the viewer names it: ``"decision map"`` for a
        classifier that scores an image by its own class map (the map it decided from),
        else ``"Grad-CAM"``."""
        arch = self.manifest.architecture
        return "decision map" if decides_from_map(arch.name, arch.arguments) else "Grad-CAM"

    def explain(self, frame, class_index: int | None = None,
                pre: Preprocessed | None = None) -> np.ndarray:
        """Heat map of a classifier at the frame's size (:attr:`heatmap_method`).

        From the graph's class activation maps where it has them (no torch,
        :mod:`medview.inference.cam`), else from the network's own maps or by torch
        Grad-CAM (:func:`medview.inference.gradcam.heat_map`).

        Parameters
        ----------
        frame : medview.core.study.Frame
        class_index : int, optional
            Default: the most probable class.
        pre : Preprocessed, optional
            As for :meth:`analyze`.

        Returns
        -------
        numpy.ndarray
            float32 (rows, cols) in [0, 1]; 0 outside the analysed crop.
        """
        if self.manifest.task != "classification":
            raise ValueError(f"Grad-CAM explains classifiers; '{self.manifest.name}' segments")
        pre = pre if pre is not None else prepare(frame, self.manifest)
        with self._lock:
            if class_index is None:
                logits = self.engine.run(pre.image[None])[0]
                check_finite_output(logits, self.manifest)
                class_index = int(np.argmax(logits))
            maps = self._class_maps(pre.image)
            if maps is not None:
                from medview.inference.cam import class_activation_map

                cam = class_activation_map(maps, class_index, self.manifest.input.size)
            elif self.in_worker:  # the worker owns torch and the network
                cam = self.engine.gradcam(pre.image, class_index)
            else:
                from medview.inference.gradcam import heat_map

                cam = heat_map(self.model.network(), pre.image, class_index)
        return pre.transform.to_original(cam, fill=0.0)

    def _class_maps(self, image: np.ndarray) -> np.ndarray | None:
        """The graph's class activation maps (K, h, w) for one input; None without them.

        Run by ONNX Runtime on the fp32 graph: the analysis engine itself when it is that,
        else a session of its own, made once (an int8 engine's maps would differ from
        Grad-CAM's)."""
        from medview.inference.cam import CAM_OUTPUT
        from medview.inference.engines.onnxruntime_engine import OnnxRuntimeEngine

        if self.model.graph is None:
            return None
        fp32 = isinstance(self.engine, OnnxRuntimeEngine) and self.engine.precision == "fp32"
        session = self.engine if fp32 else self._maps
        if session is None:
            from medview.inference.engines.base import physical_cores
            from medview.inference.engines.selection import default_cache_dir

            session = self._maps = OnnxRuntimeEngine(
                self.model.graph, self.model.input_shape, self.manifest.task,
                threads=physical_cores(), cache_dir=default_cache_dir() / "onnxruntime")
        if CAM_OUTPUT not in session.output_names:
            return None
        return session.run_all(image[None])[session.output_names.index(CAM_OUTPUT)][0]

    def close(self) -> None:
        """Release the engines (a model in the inference process is unloaded there)."""
        for engine in (self.engine, self._maps):
            if engine is not None:
                engine.close()
        self._maps = None

    def _provenance(self, frame, engine) -> dict[str, Any]:
        uid = frame.get("SOPInstanceUID")
        return {"file": str(frame.path), "frame": frame.index + 1,
                "sop_instance_uid": str(uid) if uid else None,
                "model": self.manifest.name, "version": self.manifest.version,
                "weights_sha256": self.manifest.weights.sha256, "engine": engine.name,
                "device": engine.device, "precision": engine.precision}


def prepare(frame, manifest: Manifest) -> Preprocessed:
    """Decode ``frame`` and preprocess it as ``manifest`` asks (no torch, no engine).

    Raises
    ------
    medview.core.errors.ReadError
        If the pixels cannot be decoded (the message names the file).
    medview.inference.preprocess.PreprocessError
        If the image cannot be prepared as the manifest asks.
    """
    values, context = frame_input(frame)
    return preprocess(values, manifest, context)


# ----------------------------------------------------------------------- postprocessing

def activate(logits: np.ndarray, activation: str) -> np.ndarray:
    """Softmax or sigmoid over the class axis (axis 0) of one output, in float64.

    Parameters
    ----------
    logits : numpy.ndarray
        (K,) or (K, H, W).
    activation : {"softmax", "sigmoid"}
    """
    x = np.asarray(logits, dtype=np.float64)
    if activation == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def classification_fields(logits: np.ndarray, manifest: Manifest) -> dict[str, Any]:
    """Probabilities, label and positives of a classifier output (K,).

    Decision rule. sigmoid (multi-label): every class at or above its threshold
    (default 0.5) is positive; the label is the most probable positive, else
    None. softmax (one class per image): classes given a threshold in the
    manifest are findings, positive at or above it (e.g. ``abnormal: 0.3`` for
    a screening operating point); the label is the most probable positive
    finding, else the most probable class without a threshold, else None.
    """
    # Temperature scaling (calibration): the same division on every engine's logits.
    probs = activate(np.asarray(logits, np.float64) / manifest.temperature, manifest.activation)
    by_class = {name: float(p) for name, p in zip(manifest.classes, probs)}
    if manifest.activation == "sigmoid":
        candidates = manifest.classes
    else:
        candidates = tuple(c for c in manifest.classes if c in manifest.thresholds)
    positives = sorted((c for c in candidates if by_class[c] >= manifest.threshold(c)),
                       key=lambda c: -by_class[c])
    fallback = [c for c in manifest.classes if c not in manifest.thresholds]
    if positives:
        label = positives[0]
    elif manifest.activation == "softmax" and fallback:
        label = max(fallback, key=lambda c: by_class[c])
    else:
        label = None
    return {"probabilities": by_class, "label": label, "positives": tuple(positives)}


def segmentation_fields(logits: np.ndarray, pre: Preprocessed, spacing: Spacing,
                        manifest: Manifest) -> dict[str, Any]:
    """Mask, areas and per-class peak probabilities of a segmentation output (K, H, W)."""
    probs = activate(logits, manifest.activation).astype(np.float32)
    softmax = manifest.activation == "softmax"
    # Outside the crop nothing was seen: background for softmax, zero for sigmoid.
    fill = [1.0] + [0.0] * (len(probs) - 1) if softmax else 0.0
    full = pre.transform.to_original(probs, fill=fill)
    mask, values = decide_mask(full, manifest)
    areas = class_areas(mask, values, spacing)
    first = 1 if softmax else 0
    peaks = {name: float(full[i].max()) for i, name in enumerate(manifest.classes) if i >= first}
    present = [n for n, a in areas.items() if a.value > 0]
    label = max(present, key=lambda n: areas[n].value) if present else None
    return {"mask": mask, "mask_values": values, "areas": areas, "probabilities": peaks,
            "label": label}


def decide_mask(probs: np.ndarray, manifest: Manifest) -> tuple[np.ndarray, dict[int, str]]:
    """Label mask from class probabilities (K, rows, cols).

    softmax: the most probable class (index 0 is background), kept only where it
    reaches its threshold; sigmoid: the most probable class among those at or
    above their threshold (value = index + 1), else 0.

    Returns
    -------
    mask : numpy.ndarray
        uint8 (rows, cols).
    values : dict of int to str
        Mask value → class name for the foreground classes.
    """
    classes = manifest.classes
    thresholds = np.array([manifest.threshold(c) for c in classes], np.float32)[:, None, None]
    if manifest.activation == "softmax":
        best = probs.argmax(axis=0)
        best_p = np.take_along_axis(probs, best[None], axis=0)[0]
        keep = best_p >= thresholds[:, 0, 0][best]
        mask = np.where(keep, best, 0).astype(np.uint8)
        return mask, {i: classes[i] for i in range(1, len(classes))}
    eligible = np.where(probs >= thresholds, probs, -1.0)
    best = eligible.argmax(axis=0)
    found = np.take_along_axis(eligible, best[None], axis=0)[0] >= 0
    mask = np.where(found, best + 1, 0).astype(np.uint8)
    return mask, {i + 1: name for i, name in enumerate(classes)}


def class_areas(mask: np.ndarray, values: dict[int, str], spacing: Spacing
                ) -> dict[str, Measurement]:
    """Area of each class in a label mask: mm² when calibrated, else px².

    The spacing source (e.g. ``"ImagerPixelSpacing"``) is carried along so the
    viewer can say which calibration an area relies on.
    """
    counts = np.bincount(mask.ravel(), minlength=max(values, default=0) + 1)
    out = {}
    for value, name in values.items():
        n = int(counts[value])
        if spacing.calibrated:
            out[name] = Measurement(n * spacing.row_mm * spacing.col_mm, "mm²", spacing.source)
        else:
            out[name] = Measurement(float(n), "px²", spacing.source)
    return out
