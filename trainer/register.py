"""Put a trained model into the user registry, so ``medview analyze --model NAME`` uses it at once.

``medview train JOB.json --register`` calls :func:`register` when the job finishes;
``medview register-model RUN_DIR`` (and ``medview models register RUN_DIR``) does it
later. The model folder written by the trainer (``RUN_DIR/model``) is imported through
the registry's own import (weights and manifest checked, the network run once, the
SHA-256 recorded), then its card, evaluation report and charts are copied beside it.
Where the run folder has its ``split.json``, the model's int8 graph is then made and
checked on the run's images (:mod:`trainer.int8`; ``int8=False``, the job's ``"int8":
false`` or ``--no-int8`` skip it); a model whose int8 graph is refused, or cannot be made,
is registered all the same, running in fp32.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from collections.abc import Callable
from typing import Any

from medview.core.errors import MedviewError

__all__ = ["RegistrationError", "register", "below_chance", "card_text", "EXTRA_FILES"]

#: Files of a trained model folder copied into the registry next to model.json and weights.
EXTRA_FILES = ("card.md", "evaluation.json", "training_curves.png", "confusion_matrix.png", "roc.png",
               "examples.png")


class RegistrationError(MedviewError):
    """The model cannot be registered; the message says why."""


def register(run_dir: str | Path, *, name: str | None = None, version: str | None = None,
             replace_existing: bool = False, registry=None, force: bool = False, int8: bool = True,
             progress: Callable[[str], None] | None = None):
    """Install ``RUN_DIR/model`` (or a model folder given directly) in the user registry.

    Parameters
    ----------
    run_dir : str or Path
        A finished job's run folder, or its ``model`` folder.
    name, version : str, optional
        Register under another name or version than the job gave.
    replace_existing : bool
        Overwrite an installed model with the same name and version.
    registry : Registry, optional
        Default: the shipped + user registry.
    force : bool
        Register even a model whose best validation score was at or below chance
        (``below_chance`` in ``evaluation.json``; see :mod:`trainer.chance`).
    int8 : bool
        Also make the int8 graph where the run's ``split.json`` is there.
    progress : callable, optional
        Receives one line per int8 step, and its outcome.

    Returns
    -------
    medview.inference.registry.ModelEntry

    Raises
    ------
    RegistrationError
        If the folder holds no finished model, the model is no better than chance and
        ``force`` is not set, or the registry refuses it (the message says why, e.g.
        already installed).
    """
    from medview.inference.manifest import ManifestError, ModelError, parse_manifest, read_manifest, write_manifest
    from medview.inference.registry import Registry

    run_dir = Path(run_dir)
    folder = run_dir / "model" if (run_dir / "model" / "model.json").exists() else run_dir
    if not (folder / "model.json").exists():
        raise RegistrationError(f"{run_dir}: no trained model here (expected {run_dir / 'model' / 'model.json'}; "
                                "has the job finished?)")
    warning = below_chance(folder)
    if warning and not force:
        raise RegistrationError(f"{warning}. To register it anyway, add --force")
    registry = registry or Registry()
    source = folder
    staging = None
    try:
        if name or version:
            manifest = read_manifest(folder)
            data = json.loads(json.dumps(manifest.to_dict()))  # tuples → lists, as in the file
            data.update({k: v for k, v in (("name", name), ("version", version)) if v})
            manifest = parse_manifest(data)
            staging = folder.parent / f".register-{manifest.name}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            shutil.copy2(folder / manifest.weights.file, staging / manifest.weights.file)
            if manifest.familiarity is not None and (folder / manifest.familiarity.file).is_file():
                shutil.copy2(folder / manifest.familiarity.file, staging / manifest.familiarity.file)
            write_manifest(manifest, staging / "model.json")
            source = staging
        entry = registry.import_model(source, replace_existing=replace_existing)
    except ManifestError as err:
        raise RegistrationError(str(err)) from None
    except ModelError as err:
        text = str(err).replace("use --replace", "use --replace (or another --version)")
        raise RegistrationError(text) from None
    except OSError as err:
        raise RegistrationError(f"cannot write into the registry ({err})") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    for extra in EXTRA_FILES:
        if (folder / extra).is_file():
            try:
                shutil.copy2(folder / extra, entry.path / extra)
            except OSError:
                pass  # the model works without its report; the import itself succeeded
    if int8:  # the run folder holds split.json, also when its model/ folder was given
        entry = _int8(entry, run_dir if folder != run_dir else run_dir.parent,
                      progress or (lambda _m: None))
    return entry


def _int8(entry, run_dir: Path, say: Callable[[str], None]):
    """The entry with its int8 outcome recorded; unchanged (and why said) if none could be made."""
    from medview.core.errors import MedviewError, one_line
    from medview.inference.quantize import describe
    from trainer.int8 import quantize_entry, split_file

    if not split_file(run_dir).is_file():
        say(f"no int8 graph: {split_file(run_dir)} is missing (the images to calibrate on)")
        return entry
    try:
        entry, spec = quantize_entry(entry, run_dir, say)
    except (MedviewError, OSError) as err:
        say(f"no int8 graph: {one_line(err, 300)}; the model runs in fp32")
        return entry
    say(describe(spec))
    return entry


def below_chance(folder: str | Path) -> str | None:
    """The ``below_chance`` warning of a trained model folder's ``evaluation.json`` (None: none,
    or no readable report)."""
    try:
        report = json.loads((Path(folder) / "evaluation.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    warning = report.get("below_chance") if isinstance(report, dict) else None
    return warning if isinstance(warning, str) and warning else None


def card_text(manifest, report: dict[str, Any], job) -> str:
    """The model card as Markdown (``card.md``), for a person deciding whether to trust it."""
    card = manifest.card
    m = report.get("metrics") or {}
    lines = [f"# {manifest.name} {manifest.version}", ""]
    if report.get("below_chance"):
        lines += [f"> **WARNING: {report['below_chance']}.**", ""]
    if job.card.demo:
        lines += ["> **DEMO, synthetic data, not for clinical use.**", ""]
    lines += [
        f"- **Task:** {manifest.task}; classes: {', '.join(manifest.classes)} ({manifest.activation})",
        f"- **Architecture:** {manifest.architecture.name} "
        f"{json.dumps(manifest.architecture.arguments) if manifest.architecture.arguments else ''}".rstrip(),
        f"- **Input:** {manifest.input.size[0]}×{manifest.input.size[1]}, {manifest.input.channels} channel(s); "
        f"preprocessing {json.dumps(manifest.to_dict()['preprocessing'])}",
        f"- **Parent model:** {report.get('parent', '?')}",
        f"- **Date:** {card.date}",
        "",
        "## Intended use", "", card.intended_use, "",
        "## Intended input", "", _intended_text(manifest), "",
        "## Training data", "", card.training_data, "",
        "## Results on the held-out test set", "",
    ]
    if report.get("n_test"):
        ci = report.get("ci95") or {}
        for key in ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity", "ppv", "npv",
                    "threshold", "dice", "iou", "dice_per_image_mean", "dice_per_image_median"):
            if m.get(key) is not None:
                interval = f" (95% CI {ci[key][0]:.3f}–{ci[key][1]:.3f})" if ci.get(key) else ""
                lines.append(f"- {key}: {m[key]:.4f}{interval}")
        lines.append(f"- test images: {report['n_test']}")
        if report.get("decision_rule"):
            lines.append(f"- decision rule: {report['decision_rule']}")
        if report.get("confusion_matrix"):
            lines += ["", "Confusion matrix (rows true, columns predicted): "
                      + "; ".join(f"{c}: {row}" for c, row in zip(report["classes"], report["confusion_matrix"]))]
    else:
        lines.append("Not evaluated: the job had no test set.")
    lines += _trust_lines(report)
    lines += ["", "## Limitations", "", card.limitations or "None stated.", ""]
    for note in report.get("notes", []):
        lines.append(f"- {note}")
    charts = report.get("charts") or {}
    if charts:
        lines += ["", "## Charts", ""] + [f"- {k}: `{v}`" for k, v in charts.items()]
    lines += ["", "## Training", "",
              f"preset {job.preset}; {job.epochs} epochs planned ({len(report.get('history', []))} run), backbone "
              f"frozen for {job.freeze_epochs}; optimizer {job.optimizer}, lr {job.lr:g}, scheduler {job.scheduler}, "
              f"batch {job.batch_size}; weights of epoch {report.get('best_epoch')} kept ("
              f"{'the last' if report.get('final_weights') == 'last' else 'the best'} by validation "
              f"{report.get('monitor')}).",
              ""]
    lines += _recipe_lines(report)
    return "\n".join(lines)


def _recipe_lines(report: dict[str, Any]) -> list[str]:
    """What the recipe chose and why, and the start check's outcome (trainer/recipe.py)."""
    recipe, check = report.get("recipe") or {}, report.get("start_check")
    lines = [f"- {k}: {json.dumps(v)} ({recipe['reasons'].get(k, '')})" for k, v in recipe.get("chosen", {}).items()]
    if lines:
        lines = ["Chosen by the recipe (fields the job left out):", ""] + lines + [""]
    if check:
        lines += [f"Start check: best validation {check['monitor']} {check['trained_start']} from the trained "
                  f"start vs {check['random_start']} from random weights; kept the "
                  f"{check['kept'].replace('_', ' ')}.", ""]
    return lines


def _intended_text(manifest) -> str:
    """What the model is checked against before every analysis (``intended_input``)."""
    intended = manifest.intended_input
    if intended is None:
        return "Not declared: the model runs on any image, unchecked."
    ranges = []
    if intended.pixel_spacing_mm:
        ranges.append(f"pixel spacing {intended.pixel_spacing_mm[0]:g}–"
                      f"{intended.pixel_spacing_mm[1]:g} mm")
    if intended.image_size:
        ranges.append(f"{intended.image_size[0]}–{intended.image_size[1]} px a side")
    return (f"{intended.describe()}"
            + (f"; photometric {'/'.join(intended.photometric)}" if intended.photometric else "")
            + (f"; {', '.join(ranges)}" if ranges else "")
            + ("; plain (non-DICOM) images accepted" if intended.non_dicom else "; DICOM only")
            + ("; images recording no body part accepted" if intended.unknown_body_part
               else "") + ". Images outside it are refused unless a person runs them anyway.")


def _trust_lines(report: dict[str, Any]) -> list[str]:
    """Calibration and the training-image reference, from the report."""
    lines = []
    cal = report.get("calibration") or {}
    test = cal.get("test") or {}
    if cal:
        lines.append(f"- probabilities: temperature {cal['temperature']:.3g} fitted on "
                     f"{cal.get('fitted_on')}" + (f" ({cal['note']})" if cal.get("note") else ""))
    if test.get("ece_before") is not None:
        lines.append(f"- expected calibration error on the test set: {test['ece_before']:.3f} "
                     f"before, {test['ece_after']:.3f} after")
    fam = report.get("familiarity") or {}
    if fam.get("test_flagged") is not None:
        lines.append(f"- the reference of the {fam['training_images']} training images flags "
                     f"{fam['test_flagged']:.0%} of the test images as unlike them")
    return lines
