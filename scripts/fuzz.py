"""Fuzz ``medview export``, ``medview info`` and ``medview sr show`` with seeded mutants of
real DICOM files.

Each mutant runs through the real CLI (``medview.cli.main``) in a child process
with a hard timeout and an address-space cap; the table counts each outcome per
command, and one reproducer per failure signature (the smallest mutant) is kept
under ``--out``. Run from the repository root::

    PYTHONPATH=$PWD python scripts/fuzz.py --n 2000 --seed 1 --jobs 1 --out /tmp/fuzz

Children are forked from this process after the heavy modules are imported (fast);
``--exec`` starts a fresh ``python -m medview`` per run instead (slow, exactly the
installed command). Peak RSS comes from ``wait4`` (the child's own rusage); a
forked child starts at about this process's size, printed as the baseline.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Outcomes, in table order; all but the first two are failures.
RENDERED, REFUSED = "rendered", "refused cleanly (exit 2, one line)"
TRACEBACK, SIGNAL, SLOW, BIG, NOISE = ("traceback", "killed by signal", "over time limit",
                                       "peak RSS over limit", "other (exit/stderr not clean)")
OUTCOMES = (RENDERED, REFUSED, TRACEBACK, SIGNAL, SLOW, BIG, NOISE)
FAILURES = OUTCOMES[2:]
COMMANDS = ("export", "info", "sr")
#: What a command that succeeded may still say on stderr (what it left out, what it corrected).
NOTE = "medview: note: "

# Corpus: small real files, every transfer syntax the test data has, plus palette,
# enhanced multi-frame (per-frame functional groups), multi-frame and a file without meta.
CORPUS_NAMES = (
    "rtdose_1frame.dcm", "MR_small_implicit.dcm", "rtdose.dcm",          # implicit LE
    "CT_small.dcm", "SC_rgb_small_odd.dcm", "emri_small.dcm",            # explicit LE
    "liver.dcm", "examples_palette.dcm",                                  # enhanced, palette
    "image_dfl.dcm",                                                      # deflated
    "MR_small_bigendian.dcm", "SC_rgb_small_odd_big_endian.dcm",          # big endian
    "SC_rgb_small_odd_jpeg.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm",            # JPEG baseline
    "JPGExtended.dcm",                                                    # JPEG extended 12-bit
    "SC_rgb_jpeg_gdcm.dcm", "JPEG-LL.dcm",                                # JPEG lossless
    "MR_small_jpeg_ls_lossless.dcm", "JPEGLSNearLossless_16.dcm",         # JPEG-LS
    "SC_rgb_jls_lossy_line.dcm",
    "MR_small_jp2klossless.dcm", "emri_small_jpeg_2k_lossless.dcm",       # J2K lossless
    "JPEG2000.dcm", "SC_rgb_gdcm_KY.dcm",                                 # J2K
    "SC_rgb_rle.dcm", "rtdose_rle_1frame.dcm", "SC_rgb_rle_16bit_2frame.dcm",  # RLE
    "OBXXXX1A_rle.dcm",                                                   # RLE palette
    "OT-PAL-8-face.dcm",                                                  # no file meta
    "test-SR.dcm", "reportsi.dcm",                                        # structured reports
)

SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99",
            "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
            "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
            "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
            "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.5", "1.2.3.4.5")
VRS = (b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
       b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST",
       b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV", b"ZZ")
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR",
             b"UT", b"UV"}
HUGE = (0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, 0x10000000, 0xFFFF, 0xFFFE)

# Lying header values (VR-valid so pydicom can write them).
LIES = {
    "Rows": (0, 1, 3, 255, 4096, 65535),
    "Columns": (0, 1, 3, 255, 4096, 65535),
    "NumberOfFrames": ("0", "-1", "2", "7", "1000", "100000", "2147483647", "99999999999", "x"),
    "BitsAllocated": (0, 1, 7, 12, 24, 32, 64, 65535),
    "BitsStored": (0, 1, 17, 33, 65535),
    "HighBit": (0, 31, 65535),
    "SamplesPerPixel": (0, 2, 3, 4, 65535),
    "PlanarConfiguration": (1, 2, 65535),
    "PixelRepresentation": (1, 2),
    "PhotometricInterpretation": ("PALETTE COLOR", "RGB", "YBR_FULL_422", "MONOCHROME1",
                                  "YBR_RCT", "XYZ", ""),
    "RescaleSlope": ("1e308", "-1e308", "NaN", "inf", "0", "1e-308"),
    "RescaleIntercept": ("1e308", "NaN", "-inf"),
    "WindowCenter": ("NaN", "1e308", "-1e308"),
    "WindowWidth": ("NaN", "1e308", "0", "-5", "inf"),
}
_PALETTE = ("RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData",
            "BluePaletteColorLookupTableData", "RedPaletteColorLookupTableDescriptor",
            "GreenPaletteColorLookupTableDescriptor", "BluePaletteColorLookupTableDescriptor")


# ----------------------------------------------------------------- corpus layout

@dataclass
class Element:
    tag: int
    vr: bytes | None       # None in implicit VR
    value_tell: int        # offset of the value in the file
    length_size: int       # 2 or 4 bytes


@dataclass
class Source:
    path: Path
    data: bytes
    ds_start: int | None = None   # first byte after the file meta (None: deflated/unknown)
    implicit: bool = False
    little: bool = True
    elements: list[Element] = field(default_factory=list)


def corpus_paths(work: Path) -> list[Path]:
    """The corpus files, and an SR measurement report and key-object document that medview
    writes into ``work`` (pydicom's SR files are not of the kinds ``sr show`` reads)."""
    from tests.helpers.datafiles import all_real_files

    by_name = {p.name: p for p in all_real_files()}
    return [by_name[n] for n in CORPUS_NAMES if n in by_name] + medview_documents(work)


def medview_documents(work: Path) -> list[Path]:
    """A TID 1500 report (a length, a rectangle, an angle) and a key object selection."""
    from medview.core.annotations import ANGLE, LENGTH, RECT, Annotation
    from medview.core.sr.key_objects import write_key_object_selection
    from medview.core.sr.measurement_report import write_measurement_report
    from tests.helpers.study_files import frame_of, one_study, open_study

    study = open_study(one_study(work / "study"))
    ct, mr = frame_of(study, "CT_small.dcm"), frame_of(study, "MR_small.dcm")
    items = [(ct, Annotation(LENGTH, [(10.0, 20.0), (90.0, 100.0)])),
             (ct, Annotation(RECT, [(30.0, 30.0), (60.0, 70.0)])),
             (mr, Annotation(ANGLE, [(5.0, 5.0), (30.0, 30.0), (5.0, 55.0)]))]
    report = write_measurement_report(items, work / "sr.dcm").path
    keys = write_key_object_selection([ct, mr], work / "ko.dcm").path
    return [Path(report), Path(keys)]


def load_source(path: Path) -> Source:
    """Read a file and find where its top-level elements lie (for targeted mutations)."""
    from pydicom.filereader import _read_file_meta_info, data_element_generator, read_preamble

    src = Source(path, path.read_bytes())
    fp = io.BytesIO(src.data)
    try:
        read_preamble(fp, False)
        meta = _read_file_meta_info(fp)
        syntax = str(meta.get("TransferSyntaxUID", "1.2.840.10008.1.2.1"))
    except Exception:
        fp.seek(0)
        syntax = "1.2.840.10008.1.2"
    if syntax == "1.2.840.10008.1.2.1.99":
        return src
    src.ds_start = fp.tell()
    src.implicit = syntax == "1.2.840.10008.1.2"
    src.little = syntax != "1.2.840.10008.1.2.2"
    try:
        for el in data_element_generator(fp, src.implicit, src.little, defer_size=64):
            vr = None if src.implicit else str(el.VR).encode()
            short = vr is not None and vr not in _LONG_VRS
            src.elements.append(Element(el.tag, vr, el.value_tell, 2 if short else 4))
    except Exception:
        pass
    return src


# ----------------------------------------------------------------- mutations

def m_flip(rng: random.Random, src: Source, data: bytes) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = rng.choice((1, 2, 4, 8, 32))
    head = min(len(buf), (src.elements[-1].value_tell if src.elements else 2048) + 16)
    for _ in range(n):
        pos = rng.randrange(head) if rng.random() < 0.7 else rng.randrange(len(buf))
        buf[pos] = rng.randrange(256)
    return bytes(buf), f"flip{n}"


def m_truncate(rng: random.Random, src: Source, data: bytes) -> tuple[bytes, str]:
    cut = rng.randrange(1, len(data)) if rng.random() < 0.3 else rng.randrange(len(data) // 2, len(data))
    return data[:cut], f"truncate@{cut}"


def m_huge_length(rng: random.Random, src: Source, data: bytes) -> tuple[bytes, str] | None:
    if not src.elements:
        return None
    pixel = [e for e in src.elements if e.tag == 0x7FE00010]
    el = pixel[0] if pixel and rng.random() < 0.3 else rng.choice(src.elements)
    value = rng.choice(HUGE)
    fmt = ("<" if src.little else ">") + ("H" if el.length_size == 2 else "I")
    value &= 0xFFFF if el.length_size == 2 else 0xFFFFFFFF
    at = el.value_tell - el.length_size
    buf = bytearray(data)
    buf[at:at + el.length_size] = struct.pack(fmt, value)
    return bytes(buf), f"length({el.tag:08X})={value:#x}"


def m_swap_vr(rng: random.Random, src: Source, data: bytes) -> tuple[bytes, str] | None:
    explicit = [e for e in src.elements if e.vr is not None]
    if not explicit:
        return None
    el = rng.choice(explicit)
    at = el.value_tell - (2 if el.length_size == 2 else 6) - 2
    vr = rng.choice(VRS)
    buf = bytearray(data)
    buf[at:at + 2] = vr
    return bytes(buf), f"vr({el.tag:08X})={vr.decode()}"


def m_swap_syntax(rng: random.Random, src: Source, data: bytes) -> tuple[bytes, str] | None:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_preamble
    from pydicom.filewriter import write_file_meta_info

    fp = io.BytesIO(data)
    try:
        read_preamble(fp, False)
        meta = _read_file_meta_info(fp)
    except Exception:
        return None
    rest = data[fp.tell():]
    syntax = rng.choice(SYNTAXES)
    meta.TransferSyntaxUID = syntax
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, False
    try:
        write_file_meta_info(out, meta, enforce_standard=False)
    except Exception:  # a meta element the writer cannot encode: another mutation instead
        return None
    return b"\0" * 128 + b"DICM" + out.getvalue() + rest, f"syntax={syntax}"


def m_deep_sequence(rng: random.Random, src: Source, data: bytes) -> tuple[bytes, str] | None:
    if src.ds_start is None:
        return None
    depth = rng.choice((200, 1000, 5000, 30000))
    e = "<" if src.little else ">"
    tag = struct.pack(e + "HH", 0x0004, 0x1220)
    head = tag + (struct.pack(e + "I", 0xFFFFFFFF) if src.implicit
                  else b"SQ\0\0" + struct.pack(e + "I", 0xFFFFFFFF))
    item = struct.pack(e + "HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_end = struct.pack(e + "HHI", 0xFFFE, 0xE00D, 0)
    seq_end = struct.pack(e + "HHI", 0xFFFE, 0xE0DD, 0)
    nested = (head + item) * depth + (item_end + seq_end) * depth
    return data[:src.ds_start] + nested + data[src.ds_start:], f"deep_sequence{depth}"


def m_lie(rng: random.Random, src: Source, data: bytes) -> tuple[bytes, str] | None:
    import pydicom
    from pydicom import config

    saved = config.settings.reading_validation_mode, config.settings.writing_validation_mode
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        how = _apply_lie(rng, ds)
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=False)
    except Exception:
        return None
    finally:  # the settings are global; a test process must get them back
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = saved
    return out.getvalue(), how


def _apply_lie(rng: random.Random, ds) -> str:
    choice = rng.random()
    if choice < 0.12 and "PerFrameFunctionalGroupsSequence" in ds:
        seq = ds.PerFrameFunctionalGroupsSequence
        keep = rng.randrange(len(seq))
        del seq[keep:]
        return f"per_frame_items={keep}"
    if choice < 0.22:
        present = [k for k in _PALETTE if k in ds]
        for k in rng.sample(present, k=rng.randint(1, len(present))) if present else ():
            delattr(ds, k)
        ds.PhotometricInterpretation = "PALETTE COLOR"
        return f"palette_missing({len(present)})"
    keyword = rng.choice(tuple(LIES))
    value = rng.choice(LIES[keyword])
    setattr(ds, keyword, value)
    return f"{keyword}={value}"


MUTATIONS = ((m_flip, 3), (m_truncate, 2), (m_huge_length, 2), (m_swap_vr, 1),
             (m_swap_syntax, 1), (m_deep_sequence, 1), (m_lie, 4))


def make_mutant(seed: int, index: int, sources: list[Source]) -> tuple[bytes, str, Source]:
    """Mutant ``index`` of run ``seed``: 1–3 mutations of one corpus file (deterministic)."""
    rng = random.Random(f"{seed}:{index}")
    src = rng.choice(sources)
    data, steps = src.data, []
    funcs, weights = zip(*MUTATIONS)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        fn = rng.choices(funcs, weights)[0]
        try:
            result = fn(rng, src, data)
        except Exception:  # a mutant pydicom cannot re-read or re-write: flip bytes instead
            result = None
        result = result or m_flip(rng, src, data)
        data, how = result
        steps.append(how)
    return data, "+".join(steps), src


# ----------------------------------------------------------------- running

@dataclass
class Run:
    command: str
    rc: int | None
    signal: int | None
    seconds: float
    peak_rss_mb: float
    stderr: str
    timed_out: bool


def prepare_parent() -> None:
    """Import what the CLI uses, so forked children start warm."""
    warnings.simplefilter("ignore")
    import medview.cli  # noqa: F401
    import medview.commands.export  # noqa: F401
    import medview.commands.info  # noqa: F401
    import medview.commands.sr  # noqa: F401
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401
    import pydicom.pixels  # noqa: F401
    for mod in ("openjpeg", "rle", "gdcm", "pylibjpeg", "jpeg_ls", "pydicom.pixels.decoders", "highdicom"):
        try:
            __import__(mod)
        except Exception:
            pass


def argv_for(command: str, mutant: Path, png: Path) -> list[str]:
    return {"export": ["export", str(mutant), str(png)], "info": ["info", str(mutant)],
            "sr": ["sr", "show", str(mutant)]}[command]


def start(argv: list[str], err_path: Path, mem_bytes: int, use_exec: bool) -> int:
    """Start one CLI run in a child; returns its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    if use_exec:
        def limits():
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        with open(err_path, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "medview", *argv], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limits,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
        return proc.pid
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        null = os.open(os.devnull, os.O_WRONLY)
        err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(null, 1)
        os.dup2(err, 2)
        # as in a fresh interpreter (the parent's may be a test runner's capture objects)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
        from medview.cli import main

        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # what the real interpreter does with an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def classify(run: Run, rss_limit_mb: float) -> str:
    if run.timed_out:
        return SLOW
    if run.signal is not None:
        return SIGNAL
    if run.peak_rss_mb > rss_limit_mb:
        return BIG
    if "Traceback (most recent call last)" in run.stderr:
        return TRACEBACK
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    if run.rc == 0 and all(ln.startswith(NOTE) for ln in lines):
        return RENDERED
    if run.rc == 2 and len(lines) == 1:
        return REFUSED
    return NOISE


def signature(run: Run, outcome: str, how: str) -> str:
    """What distinguishes one failure from another: the command, outcome and where it came from."""
    if outcome == TRACEBACK:
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', run.stderr)
        last = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ""
        exc = last.split(":", 1)[0]
        where = f"{Path(frames[-1][0]).name}:{frames[-1][2]}" if frames else "?"
        return f"{run.command}-traceback-{exc}-{where}"
    if outcome == SIGNAL:
        return f"{run.command}-signal{run.signal}-{_first_words(run.stderr)}"
    if outcome == NOISE:
        return f"{run.command}-noise-rc{run.rc}-{_first_words(run.stderr)}"
    kind = re.sub(r"[^a-z_]", "", how.split("+")[0].split("=")[0].split("(")[0].lower())
    return f"{run.command}-{outcome.split()[0]}-{kind}"


def _first_words(text: str) -> str:
    line = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("medview:")), "")
    return re.sub(r"[^A-Za-z]+", "_", line)[:40].strip("_") or "silent"


def keep_reproducer(out: Path, sig: str, data: bytes, note: str) -> None:
    """Keep the smallest mutant seen for ``sig`` under ``out/<slug>/``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", sig)[:120]
    folder = out / slug
    mutant = folder / "mutant.dcm"
    if mutant.exists() and mutant.stat().st_size <= len(data):
        return
    folder.mkdir(parents=True, exist_ok=True)
    mutant.write_bytes(data)
    (folder / "README.txt").write_text(note)


# ----------------------------------------------------------------- driver

@dataclass
class Tally:
    counts: dict[str, Counter] = field(default_factory=lambda: {c: Counter() for c in COMMANDS})
    signatures: Counter = field(default_factory=Counter)
    failed_mutants: int = 0
    max_seconds: float = 0.0
    max_rss_mb: float = 0.0


def fuzz(n: int, seed: int, jobs: int = 1, timeout: float = 10.0, mem_gb: float = 4.0,
         rss_limit_mb: float = 1536.0, out: Path | None = None, use_exec: bool = False,
         start_index: int = 0, progress: bool = True) -> Tally:
    """Run ``n`` mutants and tally outcomes (see the module docstring)."""
    prepare_parent()
    work = Path(tempfile.mkdtemp(prefix="medview-fuzz-"))
    sources = [load_source(p) for p in corpus_paths(work)]
    tally = Tally()
    mem_bytes = int(mem_gb * (1 << 30))
    try:
        pending = [(i, c) for i in range(start_index, start_index + n) for c in COMMANDS]
        mutants: dict[int, tuple[Path, bytes, str, Source, list[str]]] = {}
        running: dict[int, tuple[int, str, float]] = {}  # pid -> (index, command, started)
        killed: set[int] = set()
        done = 0
        while pending or running:
            while pending and len(running) < jobs:
                i, command = pending.pop(0)
                if i not in mutants:
                    data, how, src = make_mutant(seed, i, sources)
                    path = work / f"m{i}.dcm"
                    path.write_bytes(data)
                    mutants[i] = (path, data, how, src, [])
                path = mutants[i][0]
                err = work / f"m{i}.{command}.err"
                pid = start(argv_for(command, path, work / f"m{i}.png"), err, mem_bytes, use_exec)
                running[pid] = (i, command, time.monotonic())
            pid, status, usage, timed_out = _reap(running, killed, timeout)
            i, command, t0 = running.pop(pid)
            path, data, how, src, outcomes = mutants[i]
            err = work / f"m{i}.{command}.err"
            stderr = err.read_text(errors="replace") if err.exists() else ""
            err.unlink(missing_ok=True)
            run = Run(command, os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                      os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                      time.monotonic() - t0, usage.ru_maxrss / 1024, stderr,
                      timed_out)
            outcome = classify(run, rss_limit_mb)
            tally.counts[command][outcome] += 1
            tally.max_seconds = max(tally.max_seconds, run.seconds)
            tally.max_rss_mb = max(tally.max_rss_mb, run.peak_rss_mb)
            outcomes.append(outcome)
            if outcome in FAILURES:
                sig = signature(run, outcome, how)
                tally.signatures[sig] += 1
                if out is not None:
                    keep_reproducer(out, sig, data, _note(seed, i, src, how, run, outcome))
            if len(outcomes) == len(COMMANDS):
                tally.failed_mutants += any(o in FAILURES for o in outcomes)
                path.unlink(missing_ok=True)
                (work / f"m{i}.png").unlink(missing_ok=True)
                del mutants[i]
                done += 1
                if progress and done % 100 == 0:
                    print(f"  {done}/{n} mutants, {tally.failed_mutants} with a failure",
                          file=sys.stderr, flush=True)
                    if out is not None:  # a partial table survives an interrupted run
                        out.mkdir(parents=True, exist_ok=True)
                        (out / "table.md").write_text(table(tally, done) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tally


def _reap(running: dict, killed: set[int], timeout: float):
    """Wait for any running child, killing those past ``timeout``; (pid, status, rusage, timed out)."""
    delay = 0.002
    while True:
        for pid, (_, _, t0) in list(running.items()):
            got, status, usage = os.wait4(pid, os.WNOHANG)
            if got:
                timed_out = pid in killed
                killed.discard(pid)
                return pid, status, usage, timed_out
            if time.monotonic() - t0 > timeout and pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def _note(seed: int, index: int, src: Source, how: str, run: Run, outcome: str) -> str:
    return (f"outcome: {outcome}\ncommand: medview {run.command} mutant.dcm"
            f"{' out.png' if run.command == 'export' else ''}\n"
            f"source: {src.path.name}\nmutation: {how}\nseed/index: {seed}/{index}\n"
            f"exit: {run.rc} signal: {run.signal} seconds: {run.seconds:.1f} "
            f"peak RSS: {run.peak_rss_mb:.0f} MB\n--- stderr (tail) ---\n{run.stderr[-4000:]}")


def table(tally: Tally, n: int) -> str:
    lines = ["| outcome | " + " | ".join(COMMANDS) + " |", "|---" * (len(COMMANDS) + 1) + "|"]
    for outcome in OUTCOMES:
        lines.append(f"| {outcome} | " + " | ".join(str(tally.counts[c][outcome]) for c in COMMANDS) + " |")
    lines.append(f"\n{n} mutants, {tally.failed_mutants} with at least one failure; "
                 f"{len(tally.signatures)} failure signatures; slowest run {tally.max_seconds:.1f} s, "
                 f"largest peak RSS {tally.max_rss_mb:.0f} MB")
    for sig, count in tally.signatures.most_common():
        lines.append(f"  {count:5d}  {sig}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000, help="number of mutants (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0, help="first mutant index (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="children at once (default 1)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per run (default 10)")
    p.add_argument("--mem-gb", type=float, default=4.0, help="RLIMIT_AS per run (default 4)")
    p.add_argument("--rss-mb", type=float, default=1536.0, help="peak RSS failure (default 1536)")
    p.add_argument("--out", type=Path, default=Path("fuzz-out"),
                   help="folder for one reproducer per failure signature")
    p.add_argument("--exec", dest="use_exec", action="store_true",
                   help="run 'python -m medview' per mutant instead of forking (slow)")
    p.add_argument("--json", type=Path, help="also write the counts there as JSON")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    tally = fuzz(args.n, args.seed, args.jobs, args.timeout, args.mem_gb, args.rss_mb, args.out,
                 args.use_exec, args.start)
    print(table(tally, args.n))
    if args.json:
        args.json.write_text(json.dumps({
            "counts": {c: dict(tally.counts[c]) for c in COMMANDS},
            "signatures": dict(tally.signatures), "failed_mutants": tally.failed_mutants}))
    print(f"baseline RSS of the forking parent: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"wall {time.monotonic() - t0:.0f} s; reproducers in {args.out}")
    return 1 if tally.failed_mutants else 0


if __name__ == "__main__":
    sys.exit(main())
