"""Model weights on disk: safetensors only, and a safe import of legacy ``.pth`` files.

Nothing here unpickles arbitrary objects. safetensors holds raw tensors and a
JSON header; a legacy ``.pth`` is opened with ``torch.load(weights_only=True)``,
whose restricted unpickler refuses any class or function that is not a tensor
building block, so a file carrying code is refused before that code can run.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import pickletools
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from medview.core.atomic import atomic_path
from medview.core.errors import one_line
from medview.core.imports import load
from medview.inference.manifest import ModelError

if TYPE_CHECKING:  # torch is imported where tensors are read: sha256_file needs none
    import torch

# Keys under which training scripts commonly nest the state dict of a checkpoint.
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")
# torch's wording changes between releases ("Unsupported global: GLOBAL x.y",
# "Trying to load unsupported GLOBAL x.y whose module x is blocked"); the opcode scan
# below does not depend on it.
_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)")
# Globals a plain state dict pickles (torch's safe loader accepts these).
_PLAIN_GLOBALS = ("torch.", "collections.OrderedDict", "_codecs.encode", "builtins.set",
                  "builtins.frozenset", "numpy.core.multiarray._reconstruct", "numpy.dtype",
                  "numpy.ndarray")
_SHAPE_REPORT_LIMIT = 3


class WeightsError(ModelError):
    """Weights are missing, corrupt, unsafe or do not fit the architecture.

    Parameters
    ----------
    model : str
        The model's name.
    file : str or Path
        The weights file (its name is shown).
    reason : str
        What is wrong, in one line.
    """

    def __init__(self, model: str, file: str | Path, reason: str) -> None:
        self.model, self.file, self.reason = model, Path(file), reason
        super().__init__(f"model '{model}' weights '{self.file.name}': {reason}")


def read_safetensors(path: str | Path, model: str) -> dict[str, torch.Tensor]:
    """Read a safetensors file into CPU tensors.

    Raises
    ------
    WeightsError
        If the file is missing, truncated or not safetensors.
    """
    load_file = load("safetensors.torch").load_file
    path = Path(path)
    if not path.is_file():
        raise WeightsError(model, path, "file not found")
    try:
        state = load_file(str(path), device="cpu")
    except Exception as err:  # safetensors raises its own error types, and OSError
        raise WeightsError(model, path, f"not a readable safetensors file ({one_line(err, 200)})"
                           ) from None
    check_finite(state, model, path)
    return state


def write_safetensors(state: Mapping[str, torch.Tensor], path: str | Path,
                      metadata: Mapping[str, str] | None = None) -> str:
    """Write tensors to ``path`` atomically: a temp file in the same folder, then rename.

    A crash or a full disk never leaves a half-written weights file where a
    model is expected.

    Parameters
    ----------
    state : mapping of str to torch.Tensor
        E.g. ``module.state_dict()``.
    path : str or Path
        Destination ``.safetensors`` file.
    metadata : mapping of str to str, optional
        Stored in the file header.

    Returns
    -------
    str
        SHA-256 of the written file, hexadecimal.
    """
    save = load("safetensors.torch").save
    path = Path(path)
    # safetensors refuses tensors sharing memory; independent contiguous copies are always safe.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    # Serialised in memory and written by Python, so a full disk is an OSError (ENOSPC) that
    # callers explain, not safetensors' own error type.
    data = save(tensors, metadata=dict(metadata or {}))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        digest = sha256_file(tmp)
    return digest


def read_legacy_pth(path: str | Path, model: str) -> dict[str, torch.Tensor]:
    """Read a PyTorch ``.pth``/``.pt`` state dict without executing pickled code.

    Accepts a plain state dict, a checkpoint nesting one under a common key
    (``state_dict``, ``model``...), and ``module.``-prefixed keys of
    ``DataParallel``.

    Raises
    ------
    WeightsError
        If the file carries pickled code (a whole pickled model, or anything
        but tensors and plain containers), is corrupt, or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(model, path, "file not found")
    torch = load("torch")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise WeightsError(model, path, _unsafe_reason(str(err), pickled_globals(path))) from None
    except Exception as err:  # zip/EOF/runtime errors of a damaged file
        raise WeightsError(model, path, f"not a readable PyTorch file ({one_line(err, 200)})"
                           ) from None
    state = _state_dict_of(obj, model, path)
    check_finite(state, model, path)
    return state


def check_finite(state: Mapping[str, torch.Tensor], model: str, file: str | Path) -> None:
    """Refuse weights holding NaN or infinity (a diverged training, a damaged file).

    Such a network answers NaN for every image, which a decision rule would read as
    "below threshold", i.e. "normal"; so it is refused where weights are read.

    Raises
    ------
    WeightsError
        Naming the first tensor with non-finite values and how many it holds.
    """
    torch = load("torch")
    for name, tensor in state.items():
        if not tensor.is_floating_point() and not tensor.is_complex():
            continue
        # A sum is NaN/inf when any value is (10x faster than isfinite on every value); in
        # float64 finite float32 weights cannot overflow it. Only then are values counted.
        if torch.isfinite(tensor.sum(dtype=torch.complex128 if tensor.is_complex()
                                     else torch.float64)):
            continue
        bad = int(tensor.numel() - torch.isfinite(tensor).sum())
        if bad:
            raise WeightsError(model, file, f"tensor '{name}' holds {bad} NaN or infinite "
                                            f"value(s) of {tensor.numel()}; the model is damaged "
                                            "(diverged training?) and cannot be used")


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, hexadecimal (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state(module: torch.nn.Module, state: Mapping[str, torch.Tensor], model: str,
               file: str | Path) -> None:
    """Copy ``state`` into ``module``, refusing any missing, extra or mis-shaped tensor.

    Raises
    ------
    WeightsError
        Naming the model and the first offending tensors with their shapes,
        e.g. a classifier saved with 3 classes loaded as a 2-class model.
    """
    expected = module.state_dict()
    problems = _shape_problems(expected, state) + _key_problems(expected, state)
    if problems:
        more = len(problems) - _SHAPE_REPORT_LIMIT
        text = "; ".join(problems[:_SHAPE_REPORT_LIMIT])
        text += f"; and {more} more" if more > 0 else ""
        raise WeightsError(model, file, f"do not fit the architecture: {text}")
    try:
        module.load_state_dict(dict(state), strict=True)
    except RuntimeError as err:
        raise WeightsError(model, file, f"do not fit the architecture ({one_line(err, 200)})"
                           ) from None


def _shape_problems(expected: Mapping[str, torch.Tensor],
                    state: Mapping[str, torch.Tensor]) -> list[str]:
    return [f"'{k}' has shape {tuple(v.shape)}, expected {tuple(expected[k].shape)}"
            for k, v in state.items() if k in expected and v.shape != expected[k].shape]


def _key_problems(expected: Mapping[str, torch.Tensor],
                  state: Mapping[str, torch.Tensor]) -> list[str]:
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    out = []
    if missing:
        out.append(f"{len(missing)} tensors missing (e.g. '{missing[0]}')")
    if extra:
        out.append(f"{len(extra)} unexpected tensors (e.g. '{extra[0]}')")
    return out


def _state_dict_of(obj, model: str, path: Path) -> dict[str, torch.Tensor]:
    for key in _NESTED_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(model, path, "holds no state dict (expected a mapping of name to "
                                        "tensor, e.g. torch.save(model.state_dict(), ...))")
    bad = [k for k, v in obj.items() if not isinstance(v, load("torch").Tensor)]
    if bad:
        raise WeightsError(model, path, f"entry '{bad[0]}' is not a tensor; save "
                                        "model.state_dict() only")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}  # saved from DataParallel
    return dict(obj)


def pickled_globals(path: str | Path) -> list[str]:
    """The ``module.name`` globals a pickle (or a torch zip file's pickles) would import.

    Read with :mod:`pickletools` opcode by opcode: nothing is unpickled or imported.
    Unreadable or damaged files give what was read before the damage.
    """
    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    blobs = [data]
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                blobs = [zf.read(n) for n in zf.namelist() if n.endswith(".pkl")]
        except (zipfile.BadZipFile, OSError, ValueError):
            return []
    found: list[str] = []
    for blob in blobs:
        for name in _globals_in(blob):
            if name not in found:
                found.append(name)
    return found


def _globals_in(blob: bytes) -> list[str]:
    names, strings = [], []
    try:
        for op, arg, _pos in pickletools.genops(blob):
            if op.name == "GLOBAL":  # protocol 0-3: "module name" in one argument
                names.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:  # protocol 4+: two pushed strings
                names.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and "UNICODE" in op.name:
                strings.append(arg)
    except Exception:  # damaged or not a pickle: keep what was read
        pass
    return names


def _unsafe_reason(message: str, found: list[str] | None = None) -> str:
    code = [g for g in (found or []) if not g.startswith(_PLAIN_GLOBALS)]
    match = _GLOBAL_RE.search(message)
    if not code and match is not None:
        code = [match.group(1)]
    if not code:  # e.g. "Unsupported operand": random bytes or another pickle dialect
        return ("refused: not a plain tensor state dict that the safe loader accepts "
                "(damaged, or it holds objects other than tensors)")
    return (f"refused: the file carries pickled code ({code[0]}), which medview never "
            "runs; re-save it with torch.save(model.state_dict(), ...) or as safetensors")
