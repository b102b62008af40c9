"""First imports of heavy modules, one at a time, whatever thread asks. No Qt, no torch.

Python locks each module while it is imported, but a package with circular imports
(pydicom, torch, numpy, ...) imported by two threads at once can still break: each
thread waits on a module the other holds, Python detects the deadlock and hands one
of them the *partially initialised* module ("cannot import name 'Dataset' from
partially initialized module 'pydicom.dataset'"), and that module stays broken for the
life of the process. medview imports pydicom, torch, OpenCV, ONNX Runtime, the
trainer's modules, ... lazily, from the GUI thread and from pool threads, so every
lazy (function-level) import of a module that may not be loaded yet goes through
:func:`load`, which holds one process-wide lock while the import runs.

Rule: call :func:`load` from functions only, never from a module's top level (a module
body waiting for the lock while another thread holds the lock and waits for that
module would deadlock where Python cannot see it). ``tests/test_lazy_imports.py``
checks that medview's lazy imports use it.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

_LOCK = threading.RLock()  # re-entrant: a loaded module may load() another in a function


def loaded(name: str) -> bool:
    """Whether module ``name`` is imported completely (not merely started)."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def load(name: str) -> ModuleType:
    """Import module ``name`` (dotted), serialised with every other first import.

    Parameters
    ----------
    name : str
        Absolute module name, e.g. ``"pydicom"`` or ``"medview.core.io.folder"``.

    Returns
    -------
    module
        The fully initialised module. Already-loaded modules return at once, without
        waiting for another thread's import in progress (so the GUI thread never waits
        for torch to load when it asks for something that is already there).
    """
    if loaded(name):
        return sys.modules[name]
    with _LOCK:
        return importlib.import_module(name)


def serial():
    """The lock :func:`load` holds, for a first import that is more than one statement
    (e.g. preloading native libraries, then importing torch)."""
    return _LOCK
