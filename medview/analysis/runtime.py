"""Loading torch in a pool thread without stalling the GUI thread. No Qt.

Importing torch off the GUI thread is not enough on its own: the GUI thread needs the
GIL to run any Python slot (a paint, a timer), and two things hold it for long
stretches during the import:

* ``dlopen`` of torch's native libraries (~1 GB; ~0.5 s of relocations on a 2-core
  PC), done by Python's extension loader and by ``ctypes.CDLL``, both with the GIL
  held. :func:`preload_native_libraries` calls the C library's ``dlopen`` through a
  ctypes *function call*, which releases the GIL, with the same flags and in the same
  order as torch's own import (``libtorch_global_deps`` with ``RTLD_GLOBAL``, then the
  ``torch._C`` extension with Python's ``RTLD_NOW``); the import then finds them loaded.
* full garbage collections triggered by the ~10⁶ objects the import creates (each
  pass walks all of them: 150-450 ms). :func:`quiet_gc` suspends automatic collection
  while a model loads and then *freezes* what was loaded, so that later collections,
  in any thread, no longer walk torch's modules at all.

With both, the longest stall measured while loading a model for the first time was
~0.1 s instead of ~0.7 s (and ~4 s when importing on the GUI thread).
"""

from __future__ import annotations

import gc
import glob
import importlib.util
import logging
import os
import sys
import threading
from contextlib import contextmanager

from medview.core import imports

log = logging.getLogger(__name__)

_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = True
_preloaded: set[str] = set()


@contextmanager
def quiet_gc():
    """No automatic garbage collection inside; what was created is frozen on exit.

    Re-entrant and thread-safe (collection resumes when the last user leaves).
    Reference counting still frees almost everything; only cycles wait.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                gc.freeze()  # modules and models loaded now live as long as the process
                if _gc_was_enabled:
                    gc.enable()


def _dlopen():
    """libc's ``dlopen`` as a ctypes function (ctypes releases the GIL around the call)."""
    import ctypes

    fn = ctypes.CDLL(None).dlopen
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return fn


def _package_dir(name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(spec.origin)


def preload_native_libraries() -> list[str]:
    """Load torch's and OpenCV's native libraries with the GIL released (best effort).

    Does nothing on Windows (torch loads its DLLs through ctypes function calls there,
    which already release the GIL), when the modules are imported already, or when
    ``MEDVIEW_NO_PRELOAD`` is set. Any failure is ignored: the normal import follows.

    Returns
    -------
    list of str
        The files loaded now.
    """
    if os.name != "posix" or os.environ.get("MEDVIEW_NO_PRELOAD"):
        return []
    done: list[str] = []
    try:
        dlopen = _dlopen()
    except Exception:  # noqa: BLE001 - no libc dlopen: nothing to gain
        return done
    rtld_global = getattr(os, "RTLD_GLOBAL", 0x100)
    rtld_now = getattr(os, "RTLD_NOW", 0x2)
    plan: list[tuple[str, int]] = []
    torch_dir = _package_dir("torch") if "torch" not in sys.modules else None
    if torch_dir:
        ext = ".dylib" if sys.platform == "darwin" else ".so"
        plan.append((os.path.join(torch_dir, "lib", f"libtorch_global_deps{ext}"),
                     rtld_global | rtld_now))
        plan += [(p, sys.getdlopenflags()) for p in sorted(glob.glob(
            os.path.join(torch_dir, "_C.*so")))]
    cv2_dir = _package_dir("cv2") if "cv2" not in sys.modules else None
    if cv2_dir:
        plan += [(p, sys.getdlopenflags()) for p in sorted(glob.glob(
            os.path.join(cv2_dir, "cv2*.so")))]
    for path, flags in plan:
        if path in _preloaded or not os.path.isfile(path):
            continue
        try:
            if dlopen(os.fsencode(path), flags):
                _preloaded.add(path)
                done.append(path)
            else:
                log.debug("preload of %s failed; the import will load it", path)
        except Exception:  # noqa: BLE001
            break
    return done


def import_torch() -> None:
    """Import torch (and OpenCV) the GUI-friendly way; call it from a pool thread.

    Holds the lock of :mod:`medview.core.imports` throughout, so that two threads
    never import torch (or anything else heavy) at once."""
    if imports.loaded("torch") and imports.loaded("cv2"):
        return
    with imports.serial():
        preload_native_libraries()
        imports.load("cv2")  # preprocessing
        imports.load("torch")
