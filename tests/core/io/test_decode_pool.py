"""Compressed pixel data is decoded in decoder processes that can crash, hang or run out
of memory without taking medview down (issue 11, item 1).

Real files throughout: pydicom's and pydicom-data's compressed test files, a truncated
JPEG-LS file and a damaged JPEG baseline file that abort any process that decodes them
(found by fuzzing), and a damaged JPEG 2000 file that makes GDCM allocate over 1 GB.
The ``_abort``/``_hang``/``_alloc``/``_modules`` tasks are the worker's test hooks
(``MEDVIEW_DECODE_TEST_HOOKS=1``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from medview.core.errors import ReadError
from medview.core.io import decode_pool, decode_worker
from medview.core.io.decode_pool import DecodePool
from medview.core.io.dicom import decode_frame, decode_frame_in_process, read_header
from medview.core.io.image import read_image, read_image_in_process
from tests.helpers.datafiles import find

ROOT = Path(__file__).resolve().parents[3]
LINUX = sys.platform.startswith("linux")
MB = 1024 * 1024

# one file per codec family the pool runs (and the decoder pydicom picks for it)
CODEC_FILES = [
    ("MR_small_jpeg_ls_lossless.dcm", 0),     # JPEG-LS (GDCM)
    ("emri_small_jpeg_ls_lossless.dcm", 7),   # JPEG-LS, a later frame of a multi-frame
    ("693_J2KR.dcm", 0),                      # JPEG 2000 (OpenJPEG), 512x512 CT
    ("US1_J2KI.dcm", 0),                      # JPEG 2000 lossy, RGB
    ("SC_rgb_rle_16bit_2frame.dcm", 1),       # RLE (pylibjpeg-rle), RGB 16-bit
    ("OBXXXX1A_rle.dcm", 0),                  # RLE, 600x800
    ("SC_rgb_jpeg_dcmtk.dcm", 0),             # JPEG baseline, YBR -> RGB
    ("JPGExtended.dcm", 0),                   # 12-bit JPEG extended (GDCM direct fallback)
    ("JPEG-LL.dcm", 0),                       # JPEG lossless
]


def truncated_jpeg_ls(tmp_path: Path) -> Path:
    """JPEGLSNearLossless_16.dcm cut to 572 of its 738 bytes: GDCM's JPEG-LS codec throws a
    C++ string through its C API and the process aborts (found by fuzzing truncations)."""
    path = tmp_path / "truncated_jpeg_ls.dcm"
    path.write_bytes(find("JPEGLSNearLossless_16.dcm").read_bytes()[:572])
    return path


def zeroed_jpeg_baseline(tmp_path: Path) -> Path:
    """SC_rgb_jpeg_dcmtk.dcm with 52 bytes at 1754 zeroed (its length unchanged, so it
    passes the header checks): GDCM's JPEG codec throws gdcm::Exception through its C API
    and the process aborts (found by fuzzing)."""
    data = find("SC_rgb_jpeg_dcmtk.dcm").read_bytes()
    path = tmp_path / "zeroed_jpeg_baseline.dcm"
    path.write_bytes(data[:1754] + bytes(52) + data[1754 + 52:])
    return path


# real files that abort any process decoding them, and the decoder the message names
# (truncated_jpeg_ls aborted in GDCM's own reader, which is no longer tried for JPEG-LS:
# in process it now fails with an exception, and through the pool with one line)
CRASHERS = [(zeroed_jpeg_baseline, "JPEG baseline", "SC_rgb_jpeg_dcmtk.dcm")]


def test_the_truncated_jpeg_ls_file_no_longer_aborts_in_process(tmp_path):
    """It aborted in GDCM's own reader, now tried for the JPEG processes only."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from medview.core.io.dicom import "
         "decode_frame_in_process as d; d(sys.argv[1])", str(truncated_jpeg_ls(tmp_path))],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "ReadError" in proc.stderr


def greedy_j2k(tmp_path: Path) -> Path:
    """MR_small_jp2klossless.dcm with 58 bytes of its codestream replaced by 60 zero bytes.

    pydicom refuses the broken fragment items; GDCM's reader then grows to 1.15 GB RSS
    (measured in-process) before giving up.
    """
    data = find("MR_small_jp2klossless.dcm").read_bytes()
    path = tmp_path / "greedy_j2k.dcm"
    path.write_bytes(data[:5548] + bytes(60) + data[5548 + 58:])
    return path


@pytest.fixture
def hooks(monkeypatch):
    monkeypatch.setenv(decode_worker.TEST_HOOKS_ENV, "1")


@pytest.fixture
def make_pool(hooks):
    pools = []

    def make(**kwargs) -> DecodePool:
        pools.append(DecodePool(**kwargs))
        return pools[-1]

    yield make
    for p in pools:
        p.shutdown()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (LINUX and stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


# --------------------------------------------------------------------------- same pixels

@pytest.mark.parametrize("name,index", CODEC_FILES)
def test_pool_decode_equals_in_process_decode(name, index):
    path = find(name)
    header = read_header(path)
    ours = decode_frame(path, index, header)
    assert decode_pool.pool().pids(), "a compressed frame must be decoded by a worker process"
    expected = decode_frame_in_process(path, index, header)
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    np.testing.assert_array_equal(ours, expected)


def test_plain_image_through_the_pool_equals_in_process(tmp_path):
    import cv2

    rgb16 = (np.arange(37 * 53 * 3, dtype=np.uint16).reshape(37, 53, 3) * 29)
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), rgb16)
    ours = read_image(path)
    np.testing.assert_array_equal(ours, read_image_in_process(path))
    np.testing.assert_array_equal(ours, rgb16[..., ::-1])  # OpenCV wrote BGR


def test_parallel_callers_share_the_workers(make_pool):
    pool = make_pool(workers=2)
    paths = [find(n) for n, _ in CODEC_FILES[:4]] * 3
    results: dict[int, np.ndarray] = {}

    def decode(i: int, path: Path) -> None:
        results[i] = pool.run("dicom", (str(path), 0), path, "test")

    threads = [threading.Thread(target=decode, args=(i, p)) for i, p in enumerate(paths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, path in enumerate(paths):
        np.testing.assert_array_equal(results[i], decode_frame_in_process(path, 0))
    assert len(pool.pids()) == 2


def test_frames_bigger_than_the_segment_grow_it(make_pool):
    pool = make_pool(workers=1)
    small = pool.run("_alloc", (1000,), "x", "test")
    big = pool.run("_alloc", (10 * MB + 3,), "x", "test")  # > the 4 MB first segment
    assert small.shape == (1000,) and big.shape == (10 * MB + 3,)
    assert big.min() == big.max() == 1


def test_workers_import_neither_qt_nor_torch(make_pool):
    pool = make_pool(workers=1)
    names = bytes(pool.run("_modules", (), "x", "test")).decode().split("\n")
    assert "pydicom" in names and "numpy" in names
    bad = [m for m in names if m.split(".")[0] in ("PySide6", "shiboken6", "torch", "cv2")]
    assert bad == []


# --------------------------------------------------------------------------- faults

@pytest.mark.parametrize("make,decoder,good", CRASHERS)
def test_a_real_crashing_file_kills_an_in_process_decoder(tmp_path, make, decoder, good):
    # Without the pool this file takes the whole app down (SIGABRT from GDCM).
    path = make(tmp_path)
    code = ("import sys; from medview.core.io.dicom import decode_frame_in_process; "
            "decode_frame_in_process(sys.argv[1], 0)")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode != 0 and proc.returncode in (-signal.SIGABRT, 3, 0xC0000409), proc


@pytest.mark.parametrize("make,decoder,good", CRASHERS)
def test_a_real_crashing_file_gives_one_line_and_the_next_decode_works(tmp_path, make,
                                                                       decoder, good):
    path = make(tmp_path)
    with pytest.raises(ReadError) as err:
        decode_frame(path)
    assert str(err.value) == f"{path}: the {decoder} decoder crashed on this file's pixel data"
    good = find(good)
    np.testing.assert_array_equal(decode_frame(good), decode_frame_in_process(good))


def test_worker_crash_is_one_line_and_the_worker_is_replaced(make_pool):
    pool = make_pool(workers=1)
    pool.run("_alloc", (10,), "warm", "test")
    (first,) = pool.pids()
    with pytest.raises(ReadError) as err:
        pool.run("_abort", (), "/data/a.dcm", "JPEG-LS")
    assert str(err.value) == (f"{Path('/data/a.dcm')}: the JPEG-LS decoder crashed on this "
                              "file's pixel data")
    assert pool.pids() == []
    assert pool.run("_alloc", (10,), "next", "test").sum() == 10
    assert pool.pids() != [first]


def test_timeout_is_one_line_and_a_fresh_worker_follows(make_pool):
    pool = make_pool(workers=1, timeout=2)
    pool.run("_alloc", (10,), "warm", "test")
    (first,) = pool.pids()
    with pytest.raises(ReadError) as err:
        pool.run("_hang", (), "/data/b.dcm", "JPEG 2000")
    assert str(err.value) == (f"{Path('/data/b.dcm')}: the JPEG 2000 decoder did not finish "
                              "within 2 s on this file's pixel data")
    assert not _alive(first), "the hung worker must be killed"
    assert pool.run("_alloc", (10,), "next", "test").sum() == 10
    assert pool.pids() != [first]


def test_a_worker_that_cannot_start_is_one_line_and_does_not_block_the_pool(make_pool,
                                                                          monkeypatch):
    pool = make_pool(workers=1)
    with monkeypatch.context() as m:
        m.setattr(decode_worker, "serve", os.abort)  # the child dies before it says ready
        with pytest.raises(ReadError) as err:
            pool.run("_alloc", (10,), "/data/d.dcm", "test")
    assert str(err.value).startswith(f"{Path('/data/d.dcm')}: could not start a decoder process")
    assert "\n" not in str(err.value)
    assert pool.run("_alloc", (10,), "then", "test").sum() == 10  # its slot was given back


def test_a_prestarted_worker_runs_the_first_task(make_pool):
    pool = make_pool(workers=1)
    pool.prestart()
    (pid,) = pool.pids()  # started, not waited for
    pool.prestart()       # one is idle or starting: no second process
    assert pool.pids() == [pid]
    assert pool.run("_alloc", (10,), "first", "test").sum() == 10
    assert pool.pids() == [pid], "the first task must run in the prestarted worker"


def test_a_prestarted_worker_that_dies_starting_is_one_line_naming_the_task_file(make_pool,
                                                                                 monkeypatch):
    pool = make_pool(workers=1)
    with monkeypatch.context() as m:
        m.setattr(decode_worker, "serve", os.abort)
        pool.prestart()
    with pytest.raises(ReadError) as err:
        pool.run("_alloc", (10,), "/data/e.dcm", "test")
    assert str(err.value).startswith(f"{Path('/data/e.dcm')}: could not start a decoder process")
    assert pool.run("_alloc", (10,), "then", "test").sum() == 10  # its slot was given back


def test_memory_cap_stops_a_huge_allocation(make_pool):
    pool = make_pool(workers=1, memory_cap=256 * MB)
    with pytest.raises(ReadError) as err:
        pool.run("_alloc", (4096 * MB,), "/data/c.dcm", "RLE")
    assert str(err.value) == (f"{Path('/data/c.dcm')}: the RLE decoder needed more than 256 MB "
                              "of memory for this file's pixel data")
    assert pool.run("_alloc", (100 * MB,), "under the cap", "test").size == 100 * MB


@pytest.mark.skipif(not LINUX, reason="reads the worker's peak memory from /proc")
def test_memory_cap_bounds_a_real_greedy_file(make_pool, tmp_path):
    pool = make_pool(workers=1, memory_cap=256 * MB)
    path = greedy_j2k(tmp_path)
    with pytest.raises(ReadError) as err:
        pool.run("dicom", (str(path), 0), path, "JPEG 2000")
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    (pid,) = pool.pids() or [None]
    if pid is not None:  # still alive: GDCM caught its bad_alloc; its peak stayed under the cap
        status = Path(f"/proc/{pid}/status").read_text()
        peak_kb = int(next(line for line in status.splitlines()
                           if line.startswith("VmHWM")).split()[1])
        assert peak_kb * 1024 < 512 * MB, f"worker peaked at {peak_kb // 1024} MB"


@pytest.mark.skipif(not LINUX, reason="POSIX shared memory lives in /dev/shm on Linux")
def test_no_shared_memory_segment_outlives_the_pool(make_pool, tmp_path, monkeypatch):
    # Track the segments this process creates: /dev/shm is machine-wide, and other
    # processes on a shared machine create and remove their own there meanwhile.
    from multiprocessing import shared_memory

    created = []

    class Recording(shared_memory.SharedMemory):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if kwargs.get("create"):
                created.append(self.name.lstrip("/"))

    monkeypatch.setattr(decode_pool.shared_memory, "SharedMemory", Recording)
    pool = make_pool(workers=2, timeout=2)
    pool.run("_alloc", (10 * MB,), "grow", "test")
    for task in ("_abort", "_hang"):
        with pytest.raises(ReadError):
            pool.run(task, (), "x", "test")
    pool.run("_alloc", (5 * MB,), "grow again", "test")
    with pytest.raises(ReadError):
        decode_frame(zeroed_jpeg_baseline(tmp_path))
    live = {name for name in created if Path("/dev/shm", name).exists()}
    assert live, "the live pool holds segments"
    pool.shutdown()
    decode_pool.shutdown()
    assert [name for name in created if Path("/dev/shm", name).exists()] == []


def test_app_exit_stops_workers_and_frees_segments(tmp_path):
    # A real interpreter decodes through the pool and exits normally: nothing is left.
    code = ("import sys, os\n"
            "from medview.core.io import decode_pool\n"
            "from medview.core.io.dicom import decode_frame\n"
            "if __name__ == '__main__':\n"
            "    decode_frame(sys.argv[1])\n"
            "    p = decode_pool.pool()\n"
            "    print(p.pids()[0], p._idle[0].segment.name)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(find("693_J2KR.dcm"))],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    pid, segment = proc.stdout.split()
    assert not _alive(int(pid))
    if LINUX:
        assert not Path("/dev/shm", segment).exists()
    assert "leaked" not in proc.stderr  # multiprocessing's resource tracker found nothing


def _decode_in_forked_child(path: str, queue) -> None:
    arr = decode_frame(path)
    total = int(arr.astype(np.int64).sum())
    if decode_pool._POOL is None:  # a daemonic child decodes in itself
        queue.put((total, [], 0))
        return
    own = decode_pool.pool()
    queue.put((total, own.pids(), own.max_workers))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_gets_its_own_one_worker_pool():
    # The trainer's DataLoader workers are forked: they must not use the parent's pipes.
    import multiprocessing

    path = find("693_J2KR.dcm")
    expected = decode_frame_in_process(path)
    decode_frame(path)
    parent_pids = decode_pool.pool().pids()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_decode_in_forked_child, args=(str(path), queue))
    child.start()
    total, child_pids, workers = queue.get(timeout=300)
    child.join(60)
    assert child.exitcode == 0 and total == int(expected.astype(np.int64).sum())
    assert child_pids and set(child_pids).isdisjoint(parent_pids) and workers == 1
    assert not any(_alive(pid) for pid in child_pids)  # the child stopped its pool at exit
    np.testing.assert_array_equal(decode_frame(path), expected)  # the parent's pool still serves
    assert decode_pool.pool().pids() == parent_pids


def test_a_daemonic_child_decodes_in_itself():
    # The trainer's DataLoader workers are daemonic: multiprocessing forbids them children.
    import multiprocessing

    path = find("693_J2KR.dcm")
    expected = int(decode_frame_in_process(path).astype(np.int64).sum())
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_decode_in_forked_child, args=(str(path), queue), daemon=True)
    child.start()
    assert queue.get(timeout=300) == (expected, [], 0)
    child.join(60)


# --------------------------------------------------------------------------- Windows

@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="sizes below are for 64-bit")
def test_job_object_structures_match_winnt_h():
    # JOBOBJECT_EXTENDED_LIMIT_INFORMATION is 144 bytes and PROCESS_MEMORY_COUNTERS_EX 80
    # on 64-bit Windows; a wrong layout would make SetInformationJobObject fail there.
    assert ctypes.sizeof(decode_worker.JOBOBJECT_EXTENDED_LIMIT_INFORMATION) == 144
    assert decode_worker.JOBOBJECT_EXTENDED_LIMIT_INFORMATION.ProcessMemoryLimit.offset == 112
    assert ctypes.sizeof(decode_worker.PROCESS_MEMORY_COUNTERS_EX) == 80
