"""``medview analyze``: run an installed model on files, one JSON line per image.

Each analysed image prints one JSON object on stdout (see
:meth:`~medview.inference.results.ClassificationResult.to_json`) and is recorded
in the audit log. Each file that cannot be analysed prints one line on stderr
and the others go on; the exit status is 2 only when nothing was analysed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from medview.commands.common import EXIT_BAD_INPUT, EXIT_OK, CliError
from medview.core.errors import ReadError, one_line
from medview.core.io import decode_pool
from medview.core.io.folder import load_paths
from medview.inference.manifest import ModelError
from medview.inference.registry import Registry, no_models_message

DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("auto", "torch", "onnxruntime", "openvino")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``analyze`` arguments to ``parser``."""
    # Optional for argparse so that, with no model installed, the first thing a
    # user reads is how to import one, not a usage line.
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="DICOM/image files, folders or DICOMDIRs")
    parser.add_argument("--model", metavar="NAME", help="model name (see 'medview models list')")
    parser.add_argument("--version", help="model version (default: the highest installed)")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto: the GPU when there is one, else the CPU")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="auto: the fastest on this machine that matches torch fp32")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: reduced precision only where results stay within tolerance "
                             "(int8: the model's int8 graph, where registration kept one; "
                             "fp32 never runs it)")
    parser.add_argument("--outside-scope", action="store_true",
                        help="also analyse images outside the model's declared input "
                             "(modality, body part, view...); each such result says so")
    parser.add_argument("--accept-unknown-body-part", action="store_true",
                        help="treat DICOM images that record no body part as inside a model "
                             "that declares body parts")
    parser.add_argument("--out", metavar="DIR",
                        help="folder for segmentation masks (PNG, created if missing); "
                             "without it no mask file is written")
    parser.add_argument("--dicom-out", metavar="DIR",
                        help="folder for results as DICOM objects referencing the analysed "
                             "DICOM image: a segmentation as a SEG (single-frame images), a "
                             "classification as a TID 1500 SR; ready for 'medview pacs send'")
    parser.add_argument("--dicom-sc", action="store_true",
                        help="with --dicom-out: also a secondary capture of each segmented "
                             "image with the mask burned in, for viewers that do not show SEG "
                             "(a demo model's says NOT FOR DIAGNOSIS)")


def run(args: argparse.Namespace) -> int:
    """Analyse every image under ``args.paths``; see the module docstring."""
    from medview.inference.analyze import NonFiniteOutputError
    from medview.inference.preprocess import PreprocessError
    from medview.inference.scope import OutsideScopeError

    registry = Registry()
    _check_model_choice(registry, args.model)
    if not args.paths:
        raise CliError("give the files or folders to analyse (PATH ...)")
    if args.dicom_sc and not args.dicom_out:
        raise CliError("--dicom-sc needs --dicom-out DIR")
    # Compressed DICOM and plain images are decoded in a decoder process: start it now, so
    # that its start overlaps reading the headers and building the engine.
    decode_pool.prestart()
    frames, bad = _frames(args.paths)
    if not frames and not bad:
        raise CliError(f"{' '.join(args.paths)}: no images found")
    analyzer = _make_analyzer(registry, args, runs=len(frames))
    out_dir = _out_dir(args.out)
    dicom_dir = _out_dir(args.dicom_out)
    done = 0
    names: set[str] = set()
    dicom_names: set[str] = set()
    for frame in frames:
        try:
            result = analyzer.analyze(
                frame, outside_scope=args.outside_scope,
                accept_unknown_body_part=True if args.accept_unknown_body_part else None)
        except OutsideScopeError as err:
            _report(f"{_where(frame)}: {err} Use --outside-scope to analyse it anyway.")
            continue
        except (ReadError, PreprocessError, NonFiniteOutputError) as err:
            _report(f"{_where(frame)}: {getattr(err, 'reason', err)}")
            continue
        if out_dir is not None and result.task == "segmentation":
            result = dataclasses.replace(result, mask_file=str(_write_mask(result, frame, out_dir,
                                                                           names)))
        line = result.to_json()
        if dicom_dir is not None:
            line.update(_write_dicom(result, frame, dicom_dir, dicom_names, args.dicom_sc,
                                     analyzer.manifest))
        # strict JSON: to_json maps non-finite numbers to null, and a NaN slipping by is a bug
        print(json.dumps(line, ensure_ascii=False, allow_nan=False), flush=True)
        done += 1
    return EXIT_OK if done else EXIT_BAD_INPUT


def _check_model_choice(registry: Registry, model: str | None) -> None:
    if not registry.available():
        raise CliError(no_models_message(registry))
    if not model:
        names = ", ".join(sorted({e.name for e in registry.available()}))
        raise CliError(f"choose a model with --model NAME (installed: {names})")


def _make_analyzer(registry: Registry, args, runs: int):
    from medview.inference.analyze import Analyzer, open_model
    from medview.inference.audit import AuditLog
    from medview.inference.engines import EngineError

    try:
        # The model's ONNX graph where it has one (no torch), else its torch network.
        model = open_model(registry.find(args.model, args.version), args.device, args.engine)
        return Analyzer(model, audit=AuditLog(), device=args.device, engine=args.engine,
                        precision=args.precision, on_notice=lambda m: _report(m), runs=runs)
    except ModelError as err:
        raise CliError(str(err)) from None
    except (EngineError, ValueError) as err:
        raise CliError(f"--device {args.device} --engine {args.engine}: "
                       f"{one_line(err, None)}") from None


def _frames(paths: list[str]) -> tuple[list, int]:
    """Every frame under ``paths``; each unreadable file is reported on stderr and counted."""
    bad = 0
    existing = []
    for p in paths:
        if Path(p).exists():
            existing.append(p)
        else:
            _report(f"{p}: file not found")
            bad += 1
    library = load_paths(existing) if existing else None
    if library is None:
        return [], bad
    for path, reason in library.skipped:
        _report(f"{path}: {reason}")
        bad += 1
    return library.frames(), bad


def _out_dir(out: str | None) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"{path}: cannot create the output folder ({err.strerror})") from None
    return path


def _write_mask(result, frame, out_dir: Path, used: set[str]) -> Path:
    from medview.analysis.result_files import unique_name
    from medview.commands.export import write_png_atomic

    path = out_dir / unique_name(frame, f"{result.model}-mask", ".png", used)
    write_png_atomic(result.mask, path)
    return path


def _write_dicom(result, frame, out_dir: Path, used: set[str], capture: bool,
                 manifest) -> dict:
    """The ``dicom`` (SEG or SR) and, with ``capture``, ``dicom_sc`` fields of the JSON line:
    the files written, None (and why on stderr) where the image cannot be referenced."""
    from medview.analysis.result_files import write_result_files
    from medview.analysis.sc_dicom import is_demo_model

    written = write_result_files(result, frame, out_dir, used, capture=capture,
                                 demo=is_demo_model(manifest))
    for note in written.notes:
        _report(f"note: {note}")
    fields = {"dicom": str(written.dicom) if written.dicom else None}
    if capture and result.task == "segmentation":
        fields["dicom_sc"] = str(written.capture) if written.capture else None
    return fields


def _frame_count(frame) -> int:
    return int(frame.get("NumberOfFrames", 1) or 1)


def _where(frame) -> str:
    n = _frame_count(frame)
    return f"{frame.path}" + (f" [frame {frame.index + 1}/{n}]" if n > 1 else "")


def _report(message: str) -> None:
    print(f"medview: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
