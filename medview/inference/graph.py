"""Make a model's ONNX graph from its torch network, and check it against the network.

Runs where torch is loaded anyway: model import and registration (``medview models
import``, ``trainer.register``), ``medview models make-graph``. Analysis then runs the
graph in ONNX Runtime or OpenVINO and never imports torch
(:func:`medview.inference.engines.create_graph_engine`).

The graph's first output is the logits (``output``). A classifier whose head is global
average pooling and one linear layer gets a second output (``cam``): the class
activation maps (for a classifier that pools its maps, :mod:`medview.inference.map_head`,
the maps it pools), from which :mod:`medview.inference.cam` makes Grad-CAM's heat map in
numpy. The graph is checked on the fixed verification input of the engine choice: the
probabilities (or mask) must agree with torch fp32 within the engine tolerances of
:mod:`medview.inference.engines.precision`, and the maps to float precision.

Size: parameters whose float32 values are exactly float16 numbers (weights saved in
float16, as the shipped demo models are) are stored in float16 with a Cast to float32
in front, which loses nothing and halves the file; the engines fold the Cast (and batch
norm) when they load the graph, so the arithmetic stays float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medview.core.imports import load
from medview.inference.cam import CAM_OUTPUT
from medview.inference.manifest import GRAPH_NAME, Manifest, ModelError, OnnxSpec

#: torchvision class → (last feature stage, linear layer of the head) where the head is
#: global average pooling, flatten, (dropout,) linear: there CAM equals Grad-CAM.
#: The stages are those :func:`medview.inference.gradcam.default_layer` explains.
CAM_HEADS = {"ResNet": ("layer4", "fc"), "EfficientNet": ("features", "classifier.1")}
_MAPS_RTOL, _MAPS_ATOL = 1e-3, 1e-4
#: Smaller float32 initializers are left alone (a Cast costs more than it saves).
_HALF_MIN_VALUES = 1024


class GraphError(ModelError):
    """The ONNX graph cannot be made, or does not reproduce the torch network."""


def cam_layers(module) -> tuple[str, str] | None:
    """(feature stage, linear layer) of a classifier whose class activation map equals
    Grad-CAM, else None (e.g. MobileNetV3's two-layer head, DenseNet's ReLU before pooling)."""
    for cls in type(module).__mro__:
        if cls.__name__ in CAM_HEADS and cls.__module__.startswith("torchvision."):
            return CAM_HEADS[cls.__name__]
    return None


def with_class_maps(module, layers: tuple[str, str]):
    """A torch module returning ``(logits, maps)``: maps[n, c] = Σ_k w_ck · A[n, k].

    It hooks ``module``'s feature stage; call its ``remove()`` when done with it."""
    torch = load("torch")
    feature_name, head_name = layers

    class WithClassMaps(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = module
            self._features = None
            self._hook = module.get_submodule(feature_name).register_forward_hook(self._keep)

        def remove(self) -> None:
            self._hook.remove()

        def _keep(self, _module, _inputs, output):
            self._features = output

        def forward(self, x):
            logits = self.module(x)
            weight = self.module.get_submodule(head_name).weight
            maps = torch.nn.functional.conv2d(self._features, weight[:, :, None, None])
            self._features = None
            return logits, maps

    return WithClassMaps().eval()


def map_outputs(module):
    """A torch module returning ``(logits, maps)`` for a classifier that decides from its
    class maps (:class:`medview.inference.map_head.MapPooledResNet`): the maps it pools."""
    torch = load("torch")

    class WithOwnMaps(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = module

        def remove(self) -> None:
            """Nothing to undo (for symmetry with :func:`with_class_maps`)."""

        def forward(self, x):
            return self.module.forward_maps(x)

    return WithOwnMaps().eval()


def _with_maps(module, manifest: Manifest):
    """``module`` wrapped to return its class maps too, or None when it has none."""
    if manifest.task != "classification":
        return None
    if hasattr(module, "forward_maps"):
        return map_outputs(module)
    layers = cam_layers(module)
    return with_class_maps(module, layers) if layers else None


def make_graph(module, manifest: Manifest, folder: str | Path) -> OnnxSpec:
    """Export ``module`` to ``folder/model.onnx`` and check it against the network.

    Parameters
    ----------
    module : torch.nn.Module
        The network with the model's weights (left in eval mode, otherwise unchanged).
    manifest : Manifest
    folder : path-like
        The model folder being written (a staging folder during an import).

    Returns
    -------
    OnnxSpec
        The file name and its SHA-256, for the manifest.

    Raises
    ------
    GraphError
        If the exporter fails or the graph does not reproduce the network.
    """
    from medview.inference.onnx_export import OUTPUT_NAME, export_onnx
    from medview.inference.weights import sha256_file

    target = Path(folder) / GRAPH_NAME
    module.eval()
    wrapped = _with_maps(module, manifest)
    exported = wrapped or module
    names = (OUTPUT_NAME, CAM_OUTPUT) if wrapped else (OUTPUT_NAME,)
    try:
        try:
            export_onnx(exported, manifest.input_shape, target, output_names=names,
                        fold_constants=False)
            store_exact_halves(target)
        except Exception as err:  # noqa: BLE001 - the exporter raises many types
            raise GraphError(f"model '{manifest.name}': its ONNX graph cannot be made ("
                             f"{type(err).__name__}: {' '.join(str(err).split())[:300]})") from None
        check_graph(exported, target, manifest)
    finally:
        if wrapped:
            wrapped.remove()
    return OnnxSpec(GRAPH_NAME, sha256_file(target))


def store_exact_halves(path: Path) -> int:
    """Store float32 initializers that are exact float16 numbers as float16 + Cast.

    Rewrites ``path`` atomically; returns how many initializers were halved.
    """
    from medview.core import atomic

    onnx = load("onnx")
    numpy_helper = onnx.numpy_helper
    model = onnx.load(str(path))
    casts = []
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype != np.float32 or values.size < _HALF_MIN_VALUES:
            continue
        half = values.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), values):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}.fp16"))
        casts.append(onnx.helper.make_node("Cast", [f"{name}.fp16"], [name],
                                           to=onnx.TensorProto.FLOAT, name=f"{name}.cast"))
    if casts:
        nodes = casts + list(model.graph.node)  # before every use: the list stays sorted
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        atomic.write_bytes(path, model.SerializeToString())
    return len(casts)


def check_graph(module, graph: Path, manifest: Manifest) -> None:
    """Raise :class:`GraphError` unless ONNX Runtime on ``graph`` reproduces ``module``
    (fp32 torch) on the verification input; ``module`` returns what the graph does."""
    torch = load("torch")
    from medview.inference.engines.base import verification_input
    from medview.inference.engines.onnxruntime_engine import OnnxRuntimeEngine
    from medview.inference.engines.precision import compare
    from medview.inference.onnx_export import first_tensor

    example = verification_input(manifest.input_shape)
    with torch.inference_mode():
        expected = module(torch.from_numpy(example))
    got = OnnxRuntimeEngine(graph, manifest.input_shape, manifest.task).run_all(example)
    agreement = compare(first_tensor(expected).numpy(), got[0], manifest.task)
    if not agreement.ok:
        raise GraphError(f"model '{manifest.name}': its ONNX graph does not reproduce the "
                         f"network ({agreement.detail})")
    if isinstance(expected, tuple) and len(expected) > 1:
        maps = expected[1].numpy()
        if got[1].shape != maps.shape or not np.allclose(
                got[1], maps, rtol=_MAPS_RTOL, atol=_MAPS_ATOL * float(np.abs(maps).max())):
            raise GraphError(f"model '{manifest.name}': the class activation maps of its ONNX "
                             "graph differ from the network's")
