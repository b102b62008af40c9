"""Export a torch model to an ONNX file, atomically.

ONNX Runtime and OpenVINO both load the file this writes. The export runs the model once
on a dummy input (tracing), so the file reproduces the forward pass for the given
``C×H×W``; the batch dimension can stay dynamic.

The file is first written to a temporary name in the target folder and then moved into
place with :func:`os.replace`, so a reader never sees a half-written model and a crash
leaves any earlier file intact.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import warnings
from pathlib import Path

import torch

DEFAULT_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"

# The TorchScript-based exporter still ships with torch 2.x and needs nothing else; the
# newer torch.export-based one ("dynamo") needs the onnxscript package, which medview does
# not ship. These two notices are about that choice, not about the model.
_EXPORTER_NOTICES = (
    r".*legacy TorchScript-based ONNX export.*",
    r".*The feature will be removed.*",
)


class _FirstTensor(torch.nn.Module):
    """Wrap a model so that its output is one tensor (``dict["out"]`` or ``tuple[0]``)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return first_tensor(self.module(x))


def first_tensor(output: object) -> torch.Tensor:
    """The tensor a model returned: itself, ``output["out"]`` or the first of a sequence.

    Raises
    ------
    TypeError
        If no tensor can be found.
    """
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        if "out" in output:
            return first_tensor(output["out"])
        if output:
            return first_tensor(next(iter(output.values())))
    if isinstance(output, (tuple, list)) and output:
        return first_tensor(output[0])
    raise TypeError(f"model returned {type(output).__name__}, not a tensor")


def _module_device(module: torch.nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


def export_onnx(
    module: torch.nn.Module,
    input_shape: tuple[int, int, int],
    path: str | os.PathLike[str],
    *,
    dynamic_batch: bool = True,
    opset: int | None = None,
    output_names: tuple[str, ...] = (OUTPUT_NAME,),
    fold_constants: bool = True,
) -> Path:
    """Write ``module`` as an ONNX file, atomically.

    Parameters
    ----------
    module : torch.nn.Module
        The model; it is put in eval mode. A model that returns a dict (``"out"``) or a
        tuple is exported with its first tensor as the single output.
    input_shape : tuple of int
        ``(C, H, W)`` of one input image.
    path : path-like
        Target file; its folder is created if missing.
    dynamic_batch : bool, default True
        Leave the batch dimension free (``N``); otherwise it is fixed at 1.
    opset : int, optional
        ONNX opset version; default :data:`DEFAULT_OPSET` (17, read by ONNX Runtime ≥ 1.12
        and OpenVINO ≥ 2022.3).
    output_names : tuple of str
        One name: the model's (first) tensor is the output. Several: the module returns
        that many tensors, in this order (e.g. :mod:`medview.inference.graph` adds the
        class activation maps as a second output); engines read the first.
    fold_constants : bool, default True
        Let the exporter fold constants (e.g. batch norm into the convolution before it).
        False keeps the parameters as they are, so that weights stored in float16 stay
        exactly representable in float16 (ONNX Runtime and OpenVINO fold at load time).

    Returns
    -------
    pathlib.Path
        ``path``, now holding a complete ONNX model with input ``"input"`` and output
        ``"output"``.

    Raises
    ------
    Exception
        Whatever the exporter raises (usually ``RuntimeError`` or ``torch.onnx.errors``
        types); no file is left behind at ``path`` (an existing one is kept).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    c, h, w = (int(v) for v in input_shape)
    module.eval()
    # A new wrapper module is in training mode; the exporter restores that mode after
    # tracing, which would recursively switch the caller's model to training.
    wrapped = _FirstTensor(module).eval() if len(output_names) == 1 else module
    example = torch.zeros(1, c, h, w, device=_module_device(module))
    dynamic_axes = ({name: {0: "N"} for name in (INPUT_NAME, *output_names)}
                    if dynamic_batch else None)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        kwargs = dict(
            input_names=[INPUT_NAME],
            output_names=list(output_names),
            opset_version=opset or DEFAULT_OPSET,
            dynamic_axes=dynamic_axes,
            do_constant_folding=fold_constants,
        )
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False
        with warnings.catch_warnings():
            for pattern in _EXPORTER_NOTICES:
                warnings.filterwarnings("ignore", message=pattern)
            with torch.no_grad():
                torch.onnx.export(wrapped, (example,), str(tmp), **kwargs)
        if tmp.stat().st_size == 0:
            raise RuntimeError("the ONNX exporter wrote an empty file")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
