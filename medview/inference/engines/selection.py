"""Measure candidate engines once, keep the fastest that agrees with fp32, cache the choice.

Measuring
---------
Each candidate is built, run once on the fixed verification input and compared with the
fp32 torch output (:func:`medview.inference.engines.precision.compare`); candidates that
fail to build or fall outside tolerance are dropped. For slow models (the fastest check
run ≥ 0.2 s), a survivor whose check run took more than :data:`FIRST_RUN_PRUNE` × the
fastest check run is dropped without timing (one-off warm-up is a small part of such a
run). The rest get one more warm-up run if they are fast (< 0.2 s) and are then timed
**round-robin** — a short block of each per round, in rotating order — so that a burst of
load from another program slows every candidate alike instead of penalising whichever
happened to be measured at that moment. The first run of a block is not timed
(:func:`timed_block`): the previous engine's threads may still be spinning on both cores
(ONNX Runtime's and OpenMP's workers spin for a while after a run; timed one run at a time,
an engine that followed ONNX Runtime measured up to 2× slower than alone). Slow models
(check run ≥ 0.2 s) run one timed run per round. After each round, candidates whose *best*
time exceeds the leader's *median* by :data:`PRUNE_FACTORS` (2.0, then 1.5, then 1.3) are dropped.
Timing stops when one candidate is left, when the budget (:data:`TIME_BUDGET_S`) is spent
after :data:`MIN_ROUNDS` rounds, at three times the budget whatever the rounds, or after
:data:`MAX_ROUNDS`. The winner is the lowest median. Each candidate's build time is kept
too (its first build: loading the graph, optimising or compiling it into the engine's own
cache, importing the engine if it is the first of its kind).

Few inputs
----------
The winner is the engine for many inputs (the app). A caller that runs the model on a known,
small number of inputs in a fresh process (``medview analyze`` on one image) passes
``runs``: from a cached measurement it then builds the candidate with the least
``build + runs × run`` time. For one image the build is most of the cost: OpenVINO's
compiled model takes ~0.3 s to load from its cache where ONNX Runtime's session takes ~0.1 s,
while one run of either takes a few milliseconds.

Caching
-------
The choice is stored in a JSON file (default
``platformdirs.user_cache_dir("medview")/engines.json``) under a key made from everything
that can change the answer: model key, a fingerprint of the weights, input shape, device,
the engine/precision request, the CPU (model, flags, cores), thread count and the
versions of torch, ONNX Runtime and OpenVINO. The file is rewritten atomically
(temporary file + :func:`os.replace`); an unreadable file counts as empty.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medview.core.errors import MedviewError

from .base import Engine, cpu_identifier, verification_input
from .precision import compare

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
#: bump when the measuring method changes, so old choices are measured again
SELECTION_VERSION = 2
MAX_CACHE_ENTRIES = 200

MIN_ROUNDS = 3
MAX_ROUNDS = 25
TIME_BUDGET_S = 3.0
#: after round 1, 2, 3+: drop a candidate whose best time exceeds this × the leader's median
PRUNE_FACTORS = (2.0, 1.5, 1.3)
#: drop before timing a candidate whose check run took this × the fastest check run
FIRST_RUN_PRUNE = 2.0
EXTRA_WARMUP_BELOW_S = 0.2
#: timed runs per candidate per round, for models whose check run is under EXTRA_WARMUP_BELOW_S
BLOCK_RUNS = 4


@dataclass
class Candidate:
    """One way to run the model, built on demand.

    Attributes
    ----------
    engine : str
        Engine name (``"torch"``, ``"onnxruntime"``, ``"openvino"``).
    variant : str
        Engine-specific variant (torch: ``fp32``/``channels_last``/``bf16``/``fp16``;
        others: ``fp32``/``bf16``).
    build : callable
        ``build() -> Engine``.
    is_reference : bool
        The fp32 torch model itself: agrees by definition.
    prechecked : bool
        Its agreement was checked on the model's own labelled test images when it was
        made (an int8 graph, :mod:`medview.inference.quantize`): the check on the random
        verification input is recorded but does not drop it (calibrated ranges fit
        images, not noise).
    """

    engine: str
    variant: str
    build: Callable[[], Engine]
    is_reference: bool = False
    prechecked: bool = False

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.variant}"


@dataclass
class Measurement:
    """What :func:`measure_candidates` found.

    Attributes
    ----------
    engine : Engine
        The chosen, built engine.
    candidate : Candidate
        The chosen candidate.
    timings_ms : dict
        Median ms per candidate label (those that were timed).
    rejected : dict
        Label -> reason, for candidates that failed to build or to agree.
    agreement : dict
        Label -> the tolerance check's one-line detail.
    first_run_ms : dict
        Label -> duration of the check run (includes one-off warm-up costs).
    build_ms : dict
        Label -> duration of its build (for those built).
    seconds : float
        Wall time spent measuring (building included).
    """

    engine: Engine
    candidate: Candidate
    timings_ms: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    agreement: dict[str, str] = field(default_factory=dict)
    first_run_ms: dict[str, float] = field(default_factory=dict)
    build_ms: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class NoCandidateError(MedviewError, RuntimeError):
    """No candidate engine could be built and agreed with the fp32 model."""


class MeasureCancelled(Exception):
    """The measurement was cancelled (e.g. the app closes); nothing was cached."""


def _close_all(live: list) -> None:
    for _, engine in live:
        engine.close()


def timed_block(run: Callable[[np.ndarray], object], x: np.ndarray, runs: int) -> list[float]:
    """Seconds of each of ``runs`` back-to-back calls ``run(x)``, after one untimed call.

    The untimed call absorbs what switching engines costs: the previous engine's worker
    threads may still be spinning, and caches are cold. Benchmarks time engines this way too.
    """
    run(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t0)
    return times


def _time_round(engine: Engine, x: np.ndarray, runs: int) -> list[float]:
    """One candidate's share of a timing round: a block of ``runs``, or for a slow model
    (``runs`` 1) a single timed run (a switch costs little beside it)."""
    if runs > 1:
        return timed_block(engine.run, x, runs)
    t0 = time.perf_counter()
    engine.run(x)
    return [time.perf_counter() - t0]


def measure_candidates(
    candidates: list[Candidate],
    example: np.ndarray,
    reference: np.ndarray | Callable[[], np.ndarray],
    task: str,
    *,
    budget_s: float | None = None,
    min_rounds: int | None = None,
    max_rounds: int | None = None,
    reraise: tuple[type[BaseException], ...] = (),
    cancelled: Callable[[], bool] | None = None,
) -> Measurement:
    """Build, verify and time candidates; return the fastest that agrees with fp32.

    Parameters
    ----------
    candidates : list of Candidate
        In order of preference for ties (the first listed wins an exact tie).
    example : numpy.ndarray
        Fixed ``1×C×H×W`` input used for verification and timing.
    reference : numpy.ndarray or callable
        fp32 torch output for ``example``, or a function computing it. If a candidate is
        the reference itself (``is_reference``), its first run is used instead.
    task : str
        ``"classification"`` or ``"segmentation"`` (selects the tolerance check).
    budget_s : float, optional
        Seconds of timed rounds after which measuring stops once ``min_rounds`` are done
        (and, whatever the rounds, at three times this); default :data:`TIME_BUDGET_S`.
    min_rounds, max_rounds : int, optional
        Bounds on the number of round-robin rounds; default :data:`MIN_ROUNDS`,
        :data:`MAX_ROUNDS`.
    reraise : tuple of exception types
        Errors that must propagate instead of merely dropping the candidate (CUDA
        out-of-memory, so the caller can fall back to the CPU).
    cancelled : callable, optional
        Asked before each candidate and each round; True stops with
        :class:`MeasureCancelled` (every engine built is closed).

    Returns
    -------
    Measurement
        With the chosen engine built; all others are closed.

    Raises
    ------
    NoCandidateError
        If every candidate failed to build or to agree.
    MeasureCancelled
        If ``cancelled()`` said so.
    """
    budget_s = TIME_BUDGET_S if budget_s is None else budget_s
    min_rounds = MIN_ROUNDS if min_rounds is None else min_rounds
    max_rounds = MAX_ROUNDS if max_rounds is None else max_rounds
    t_start = time.perf_counter()
    rejected: dict[str, str] = {}
    agreement: dict[str, str] = {}
    live: list[tuple[Candidate, Engine]] = []
    first_run_s: dict[str, float] = {}
    build_s: dict[str, float] = {}
    order = {c.label: i for i, c in enumerate(candidates)}
    ref_out: np.ndarray | None = None if callable(reference) else np.asarray(reference)

    def check_cancelled(engines) -> None:
        if cancelled is not None and cancelled():
            _close_all(engines)
            raise MeasureCancelled("engine measurement cancelled")

    # 1. build each candidate and check its first run against the fp32 output
    for cand in sorted(candidates, key=lambda c: not c.is_reference):
        check_cancelled(live)
        engine: Engine | None = None
        try:
            t0 = time.perf_counter()
            engine = cand.build()
            build_s[cand.label] = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = engine.run(example)
            first_run_s[cand.label] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - any failure just drops the candidate
            if engine is not None:
                engine.close()
            if reraise and isinstance(exc, reraise):
                _close_all(live)
                raise
            rejected[cand.label] = f"failed: {type(exc).__name__}: {exc}"
            log.info("engine candidate %s %s", cand.label, rejected[cand.label])
            continue
        if cand.is_reference and ref_out is None:
            ref_out = np.asarray(out)
        if ref_out is None:
            ref_out = np.asarray(reference())  # type: ignore[operator]
        check = compare(ref_out, out, task)
        agreement[cand.label] = check.detail
        if not check.ok and not (cand.is_reference or cand.prechecked):
            rejected[cand.label] = f"outside tolerance: {check.detail}"
            log.info("engine candidate %s rejected: %s", cand.label, check.detail)
            engine.close()
            continue
        live.append((cand, engine))
    if not live:
        raise NoCandidateError("no engine agreed with the fp32 model: " + "; ".join(
            f"{k}: {v}" for k, v in rejected.items()))
    live.sort(key=lambda ce: order[ce[0].label])

    # 2. time the survivors round-robin, dropping clear losers as evidence accumulates
    times: dict[str, list[float]] = {c.label: [] for c, _ in live}
    active = list(live)
    if len(active) > 1:
        # Slow models: a check run far slower than the fastest check run is out already.
        # (Once a run takes 0.2 s or more, one-off warm-up adds far less than 2× to a
        # check run; for fast models timing is cheap, so nothing is dropped untimed.)
        best_first = min(first_run_s[c.label] for c, _ in active)
        if best_first >= EXTRA_WARMUP_BELOW_S:
            active = [(c, e) for c, e in active if first_run_s[c.label] <= FIRST_RUN_PRUNE * best_first]
        for cand, engine in active:  # fast models: one more warm-up run
            if first_run_s[cand.label] < EXTRA_WARMUP_BELOW_S:
                engine.run(example)
    if len(active) > 1:
        t_timed = time.perf_counter()
        for rnd in range(max_rounds):
            check_cancelled(live)
            shift = rnd % len(active)  # rotate the order so no engine always follows another
            for cand, engine in active[shift:] + active[:shift]:
                block = BLOCK_RUNS if first_run_s[cand.label] < EXTRA_WARMUP_BELOW_S else 1
                times[cand.label].extend(_time_round(engine, example, block))
            best = min(statistics.median(times[c.label]) for c, _ in active)
            factor = PRUNE_FACTORS[min(rnd, len(PRUNE_FACTORS) - 1)]
            active = [(c, e) for c, e in active if min(times[c.label]) <= factor * best]
            elapsed = time.perf_counter() - t_timed
            if len(active) <= 1 or elapsed > 3 * budget_s or (rnd + 1 >= min_rounds and elapsed > budget_s):
                break
    medians = {label: statistics.median(ts) for label, ts in times.items() if ts}
    if medians:
        best_label = min(medians, key=lambda k: (medians[k], order[k]))
    else:  # a single candidate survived the check run (or pruning by it): nothing to time
        best_label = min((c.label for c, _ in active), key=lambda k: (first_run_s[k], order[k]))
    chosen = None
    for cand, engine in live:
        if cand.label == best_label:
            chosen = (cand, engine)
        else:
            engine.close()
    assert chosen is not None
    return Measurement(
        engine=chosen[1],
        candidate=chosen[0],
        timings_ms={k: round(v * 1000.0, 3) for k, v in medians.items()},
        rejected=rejected,
        agreement=agreement,
        first_run_ms={k: round(v * 1000.0, 3) for k, v in first_run_s.items()},
        build_ms={k: round(v * 1000.0, 3) for k, v in build_s.items()},
        seconds=time.perf_counter() - t_start,
    )


# --------------------------------------------------------------------------- choosing


def _default(candidates: list[Candidate]) -> Candidate | None:
    """The candidate that needs no check: the reference arithmetic itself (fp32 torch, or
    fp32 ONNX Runtime on a graph checked against torch when it was made)."""
    for cand in candidates:
        if cand.is_reference or (cand.engine, cand.variant) == ("torch", "fp32"):
            return cand
    return None


def choose(candidates: list[Candidate], *, input_shape, task: str, key_fields: dict,
           cache: EngineCache | None, reference: Callable[[np.ndarray], np.ndarray],
           reraise=(), measure: bool = True, cancelled=None, runs: int | None = None) -> Engine:
    """Cached choice if valid, else verify + measure (and cache when there was a choice).

    ``runs``: the number of inputs the engine will run, when known and small; a cached
    measurement then gives the candidate with the least build + ``runs`` × run time (see
    "Few inputs" above). ``measure=False``: without a valid cached choice, build the
    reference candidate at once (``source`` "default") and leave measuring to a later
    call. ``reference(example)`` gives the output every candidate is checked against when
    no candidate is the reference itself.
    """
    key = cache_key(key_fields)
    by_label = {c.label: c for c in candidates}
    if cache is not None and len(candidates) > 1:
        entry = cache.get(key)
        if entry is not None:
            cand = by_label.get(_choice_for(entry, runs, by_label))
            if cand is None:
                log.info("cached engine %r is not available any more; measuring again", entry.get("choice"))
            else:
                try:
                    eng = cand.build()
                except Exception as exc:  # noqa: BLE001
                    if reraise and isinstance(exc, reraise):
                        raise
                    log.info("cached engine %s failed to build (%s); measuring again", cand.label, exc)
                else:
                    eng.selection = {"source": "cache", "choice": cand.label,
                                     "timings_ms": entry.get("timings_ms", {}),
                                     "build_ms": entry.get("build_ms", {}), "runs": runs,
                                     "measure_s": 0.0}
                    return eng
    if len(candidates) == 1 and candidates[0].is_reference:
        eng = candidates[0].build()
        eng.selection = {"source": "fixed", "choice": candidates[0].label, "timings_ms": {}, "measure_s": 0.0}
        return eng
    default = None if measure else _default(candidates)
    if default is not None:
        eng = default.build()
        eng.selection = {"source": "default", "choice": default.label, "timings_ms": {}, "measure_s": 0.0}
        return eng
    example = verification_input(input_shape)
    m = measure_candidates(candidates, example, lambda: reference(example), task, reraise=reraise,
                           cancelled=cancelled)
    m.engine.selection = {"source": "measured", "choice": m.candidate.label, "timings_ms": m.timings_ms,
                          "first_run_ms": m.first_run_ms, "build_ms": m.build_ms,
                          "rejected": m.rejected,
                          "measure_s": round(m.seconds, 3)}
    if cache is not None and len(candidates) > 1:
        entry = {
            "choice": m.candidate.label,
            "engine": m.engine.name,
            "precision": m.engine.precision,
            "timings_ms": m.timings_ms,
            "rejected": m.rejected,
            "agreement": m.agreement,
            "first_run_ms": m.first_run_ms,
            "build_ms": m.build_ms,
            "measure_s": round(m.seconds, 3),
            "measured_at": now_iso(),
            "fields": key_fields,
        }
        try:
            cache.put(key, entry)
        except OSError as exc:
            log.warning("could not write the engine cache %s: %s", cache.path, exc)
    return m.engine


def _choice_for(entry: dict, runs: int | None, available) -> str:
    """The cached winner, or for ``runs`` inputs the one with the least build + run time."""
    choice = entry.get("choice", "")
    if runs is None:
        return choice
    build, run = entry.get("build_ms") or {}, entry.get("timings_ms") or {}
    costs = {k: build[k] + runs * run[k] for k in run if k in build and k in available}
    if not costs:
        return choice
    return min(costs, key=lambda k: (costs[k], k != choice))


def key_fields(*, model_key, fingerprint, input_shape, task, device, engine, precision, threads,
               versions: dict) -> dict:
    """Everything that can change the choice of an engine: the cache key's fields."""
    return {
        "selection": SELECTION_VERSION,
        "model_key": model_key,
        "weights": fingerprint,
        "input_shape": list(input_shape),
        "task": task,
        "device": device,
        "engine": engine,
        "precision": precision,
        "cpu": cpu_identifier(),
        "threads": threads,
        "versions": versions,
    }


# --------------------------------------------------------------------------- the cache


def cache_key(fields: dict) -> str:
    """A short stable key for a dict of JSON-able fields."""
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def default_cache_dir() -> Path:
    """``platformdirs.user_cache_dir("medview")``."""
    from medview.core.user_dirs import user_cache_dir

    return user_cache_dir()


class EngineCache:
    """The JSON file of measured engine choices.

    Parameters
    ----------
    path : pathlib.Path
        The JSON file (``engines.json``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {"format": CACHE_FORMAT, "entries": {}}
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(
            data.get("entries"), dict
        ):
            return {"format": CACHE_FORMAT, "entries": {}}
        return data

    def get(self, key: str) -> dict | None:
        """The stored entry for ``key``, or None."""
        entry = self._load()["entries"].get(key)
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict) -> None:
        """Store ``entry`` under ``key`` (read-modify-write, atomic replace).

        Keeps the newest :data:`MAX_CACHE_ENTRIES`. Raises OSError if the folder is not
        writable.
        """
        data = self._load()
        entries = data["entries"]
        entries.pop(key, None)
        entries[key] = entry
        while len(entries) > MAX_CACHE_ENTRIES:
            entries.pop(next(iter(entries)))
        self._write(data)

    def remove(self, key: str) -> None:
        """Forget the entry for ``key`` (no error if absent)."""
        data = self._load()
        if data["entries"].pop(key, None) is not None:
            self._write(data)

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".engines.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
