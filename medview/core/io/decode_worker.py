"""The decoder process: runs native codecs away from the GUI and hands back frames.

Started by :mod:`medview.core.io.decode_pool` with the ``spawn`` method (also from
the frozen executable: ``medview/__main__.py`` calls ``freeze_support()`` first),
so it imports only what decoding needs -- numpy, pydicom and its codecs,
OpenCV for plain images -- never Qt or torch.

Protocol over one duplex :class:`multiprocessing.connection.Connection`:

* worker -> pool ``("ready", pid)`` once, after the codecs are imported;
* pool -> worker ``(task, args, shm_name, shm_size)``; ``None`` to stop;
* worker -> pool ``("ok", shape, dtype_str)`` with the frame written at the start
  of the shared-memory segment, or ``("grow", nbytes)`` (the pool answers with a
  bigger segment's ``(name, size)``), or ``("error", reason)`` (one line),
  or ``("memory", cap_bytes)`` when the task hit the memory cap.

Each task may allocate at most ``memory_cap`` bytes beyond what the process
already uses: RLIMIT_AS on Linux/macOS, a Job Object's process memory limit on
Windows. A crash or a hang is the pool's to handle: it kills and replaces us.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

TEST_HOOKS_ENV = "MEDVIEW_DECODE_TEST_HOOKS"
"""Set to ``1`` (tests only) to enable the ``_abort``/``_hang``/``_alloc``/``_modules`` tasks."""


def _dicom_frame(path: str, index: int):
    from medview.core.io.dicom import decode_frame_in_process

    return decode_frame_in_process(path, index)


def _plain_image(path: str):
    from medview.core.io.image import read_image_in_process

    return read_image_in_process(path)


# task name -> function(*args) -> ndarray; a dict so that the pool can name only these
TASKS: dict[str, Callable] = {"dicom": _dicom_frame, "image": _plain_image}


def _test_tasks() -> dict[str, Callable]:
    """Faults on demand, to prove the pool survives them (enabled by TEST_HOOKS_ENV)."""
    import time

    import numpy as np

    def abort(*_):
        os.abort()

    def hang(*_):
        time.sleep(3600)

    def alloc(nbytes: int, *_):
        return np.ones(int(nbytes), np.uint8)  # touches every page

    def modules(*_):
        return np.frombuffer("\n".join(sorted(sys.modules)).encode(), np.uint8).copy()

    return {"_abort": abort, "_hang": hang, "_alloc": alloc, "_modules": modules}


def serve(conn, memory_cap: int, quiet: bool = True) -> None:
    """Worker main loop (the target of the pool's ``Process``)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the app's to handle; it stops us
    if quiet:
        _silence_stderr()  # codecs print to fd 2; the user gets medview's one line
    tasks = dict(TASKS)
    if os.environ.get(TEST_HOOKS_ENV) == "1":
        tasks.update(_test_tasks())
    _warm_up()
    limiter = memory_limiter()
    segment = None
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the pool (or the whole app) went away
            break
        if msg is None:
            break
        name, args, shm_name, shm_size = msg
        segment = _attach(segment, shm_name)
        limiter(memory_cap)
        try:
            arr = tasks[name](*args)
        except MemoryError:
            arr = None
            reply = ("memory", memory_cap)
        except BaseException as exc:  # noqa: BLE001 - Rust panics derive from BaseException
            arr = None
            reply = ("error", _reason(exc))
        finally:
            limiter(None)
        if arr is not None:
            if segment is None or arr.nbytes > shm_size:
                conn.send(("grow", arr.nbytes))
                shm_name, shm_size = conn.recv()
                segment = _attach(segment, shm_name)
            _copy_into(segment, arr)
            reply = ("ok", arr.shape, arr.dtype.str)
            del arr
        conn.send(reply)
    if segment is not None:
        segment.close()


def _warm_up() -> None:
    """Import the codecs now, so the first frame is as fast as the rest."""
    from medview.core.imports import load
    from medview.core.io.dicom import _decoder_available

    uids = load("pydicom.uid")
    for uid in (uids.JPEGBaseline8Bit, uids.JPEGLSLossless, uids.JPEG2000Lossless,
                uids.RLELossless):
        _decoder_available(uid)


def _attach(segment, name: str | None):
    from multiprocessing import shared_memory

    if name is None or (segment is not None and segment.name == name.lstrip("/")):
        return segment
    if segment is not None:
        segment.close()
    return shared_memory.SharedMemory(name=name)


def _copy_into(segment, arr) -> None:
    import numpy as np

    view = np.ndarray(arr.shape, arr.dtype, buffer=segment.buf)
    view[...] = arr
    del view  # release the buffer, or the segment cannot be closed


def _reason(exc: BaseException) -> str:
    from medview.core.errors import ReadError, one_line

    if isinstance(exc, ReadError):
        return exc.reason
    return f"cannot decode pixel data ({one_line(exc)})"


def _silence_stderr() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


# --------------------------------------------------------------------------- memory cap

def memory_limiter() -> Callable[[int | None], None]:
    """``limit(cap)`` caps further allocation at ``cap`` bytes; ``limit(None)`` lifts it.

    Where the platform refuses (a Job Object the process cannot join, a system
    without RLIMIT_AS) decoding goes on uncapped: a missing cap must not stop
    every compressed image from showing. The timeout still holds.
    """
    try:
        limit = _JobObjectLimit() if sys.platform == "win32" else _rlimit_as
        limit(None)
    except (OSError, ValueError, AttributeError):
        return lambda cap: None
    return limit


def _rlimit_as(cap: int | None) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if cap is None:
        soft = hard
    else:
        soft = _address_space_in_use() + cap
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_in_use() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # macOS: no /proc; ru_maxrss is the nearest (and larger) figure
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class _JobObjectLimit:
    """Windows: the worker puts itself in a Job Object with a process memory limit.

    The limit counts committed private memory; over it, allocations fail (MemoryError
    in Python, bad_alloc in C++), as RLIMIT_AS does on Linux. Written from the Win32
    documentation; the test suite checks the structures' layout, not a Windows run.
    """

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self._k32 = ctypes.WinDLL("kernel32", use_last_error=True)
        k32 = self._k32
        k32.CreateJobObjectW.restype = ctypes.c_void_p
        k32.CreateJobObjectW.argtypes = [ctypes.c_void_p, ctypes.c_wchar_p]
        k32.GetCurrentProcess.restype = ctypes.c_void_p
        k32.AssignProcessToJobObject.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        k32.SetInformationJobObject.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                                ctypes.c_void_p, ctypes.c_uint32]
        k32.K32GetProcessMemoryInfo.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_uint32]
        self._job = k32.CreateJobObjectW(None, None)
        if not self._job or not k32.AssignProcessToJobObject(self._job,
                                                             k32.GetCurrentProcess()):
            raise OSError(ctypes.get_last_error(), "cannot create the decoder's Job Object")

    def __call__(self, cap: int | None) -> None:
        ctypes = self._ctypes
        info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()  # zeroed: no flags = no limits
        if cap is not None:
            info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_PROCESS_MEMORY
            info.ProcessMemoryLimit = self._private_bytes() + cap
        if not self._k32.SetInformationJobObject(self._job, JOB_OBJECT_EXTENDED_LIMIT_INFO,
                                                 ctypes.byref(info), ctypes.sizeof(info)):
            raise OSError(ctypes.get_last_error(), "cannot set the decoder's memory limit")

    def _private_bytes(self) -> int:
        ctypes = self._ctypes
        counters = PROCESS_MEMORY_COUNTERS_EX()
        counters.cb = ctypes.sizeof(counters)
        self._k32.K32GetProcessMemoryInfo(self._k32.GetCurrentProcess(),
                                          ctypes.byref(counters), counters.cb)
        return counters.PrivateUsage


def _win32_structures():
    """The Job Object structures (winnt.h), defined on every platform so tests check them."""
    import ctypes

    c_dword, c_size, c_large, c_ull = ctypes.c_uint32, ctypes.c_size_t, ctypes.c_int64, ctypes.c_uint64

    class Basic(ctypes.Structure):
        _fields_ = [("PerProcessUserTimeLimit", c_large), ("PerJobUserTimeLimit", c_large),
                    ("LimitFlags", c_dword), ("MinimumWorkingSetSize", c_size),
                    ("MaximumWorkingSetSize", c_size), ("ActiveProcessLimit", c_dword),
                    ("Affinity", c_size), ("PriorityClass", c_dword),
                    ("SchedulingClass", c_dword)]

    class IoCounters(ctypes.Structure):
        _fields_ = [(n, c_ull) for n in ("ReadOperationCount", "WriteOperationCount",
                                          "OtherOperationCount", "ReadTransferCount",
                                          "WriteTransferCount", "OtherTransferCount")]

    class Extended(ctypes.Structure):
        _fields_ = [("BasicLimitInformation", Basic), ("IoInfo", IoCounters),
                    ("ProcessMemoryLimit", c_size), ("JobMemoryLimit", c_size),
                    ("PeakProcessMemoryUsed", c_size), ("PeakJobMemoryUsed", c_size)]

    class MemoryCounters(ctypes.Structure):
        _fields_ = [("cb", c_dword), ("PageFaultCount", c_dword)] + [
            (n, c_size) for n in ("PeakWorkingSetSize", "WorkingSetSize",
                                  "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
                                  "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage",
                                  "PagefileUsage", "PeakPagefileUsage", "PrivateUsage")]

    return Extended, MemoryCounters


JOBOBJECT_EXTENDED_LIMIT_INFORMATION, PROCESS_MEMORY_COUNTERS_EX = _win32_structures()
JOB_OBJECT_EXTENDED_LIMIT_INFO = 9        # JobObjectExtendedLimitInformation
JOB_OBJECT_LIMIT_PROCESS_MEMORY = 0x100
