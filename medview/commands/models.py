"""``medview models list | show | import | make-graph | quantize | export-onnx | backbones |
import-backbone``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medview.commands.common import EXIT_OK, CliError, print_json
from medview.core.errors import one_line
from medview.inference.backbones import list_backbones, shipped_backbones_dir, user_backbones_dir
from medview.inference.manifest import Manifest, ModelError
from medview.inference.registry import ModelEntry, Registry, no_models_message


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``models`` actions and their arguments to ``parser``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="installed models, and any that cannot be used")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show = actions.add_parser("show", help="a model's manifest and model card")
    show.add_argument("name", help="model name")
    show.add_argument("--version", help="a specific version (default: the highest)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    imp = actions.add_parser(
        "import", help="install a model folder, a .safetensors file or a legacy .pth "
                       "state dict (checked, then converted to safetensors)")
    imp.add_argument("source", help="model folder, .safetensors or .pth/.pt file")
    imp.add_argument("--manifest", help="model.json for a file (default: next to the file)")
    imp.add_argument("--replace", action="store_true",
                     help="overwrite an installed model with the same name and version")
    bbs = actions.add_parser("backbones", help="installed backbones (trunks that training jobs "
                                               "start from; not runnable models)")
    bbs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ib = actions.add_parser(
        "import-backbone", help="make a backbone from a torchvision, timm or "
                                "segmentation-models-pytorch state dict (.safetensors, or .pth "
                                "read without unpickling code)")
    ib.add_argument("source", help=".safetensors or .pth/.pt state dict")
    ib.add_argument("--name", required=True, help="backbone name (lower-case)")
    ib.add_argument("--architecture", required=True,
                    help="resnet18, resnet34, resnet50, densenet121, mobilenet_v3_small, "
                         "mobilenet_v3_large or efficientnet_b0")
    ib.add_argument("--version", default="1", help="backbone version (default: 1)")
    ib.add_argument("--register", action="store_true",
                    help="install it in the user's backbones folder (jobs find it by name)")
    ib.add_argument("--replace", action="store_true",
                    help="with --register: overwrite an installed backbone of that name and version")
    ib.add_argument("--out", help="without --register: the folder to write (default: NAME-VERSION)")
    graph = actions.add_parser(
        "make-graph", help="make (again) the ONNX graph that analysis runs without torch, "
                           "for a model imported before graphs existed")
    graph.add_argument("name", help="model name")
    graph.add_argument("--version", help="a specific version (default: the highest)")
    quant = actions.add_parser(
        "quantize", help="make a model's int8 graph, calibrated on its training run's validation "
                         "images and kept only if it keeps the test AUC / Dice and probabilities")
    quant.add_argument("name", help="model name")
    quant.add_argument("--run", required=True,
                       help="the model's training run folder (its split.json names the images)")
    quant.add_argument("--version", help="a specific version (default: the highest)")
    exp = actions.add_parser("export-onnx", help="write a model as an ONNX file")
    exp.add_argument("name", help="model name")
    exp.add_argument("out", help="output .onnx file")
    exp.add_argument("--version", help="a specific version (default: the highest)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; expected failures raise :class:`~medview.commands.common.CliError`."""
    registry = Registry()
    try:
        return _ACTIONS[args.action](registry, args)
    except ModelError as err:
        raise CliError(str(err)) from None


def _list(registry: Registry, args) -> int:
    entries = registry.entries()
    if args.json:
        print_json([_entry_json(e) for e in entries])
        return EXIT_OK
    if not entries:
        print(no_models_message(registry))
    else:
        _print_models(entries)
    if list_backbones():
        print("\nBackbones (starting points for training jobs, not runnable models):")
        _print_backbones()
    return EXIT_OK


def _print_models(entries: list[ModelEntry]) -> None:
    rows = [("NAME", "VERSION", "TASK", "ARCHITECTURE", "SOURCE", "STATUS")]
    for e in entries:
        m = e.manifest
        rows.append((e.name, e.version, m.task if m else "?", m.architecture.name if m else "?",
                     e.source, "ok" if e.valid else f"UNUSABLE: {e.error}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[5])


def _backbones(registry: Registry, args) -> int:
    entries = list_backbones()
    if args.json:
        print_json([{"name": e.info.name if e.info else None,
                     "version": e.info.version if e.info else None, "source": e.source,
                     "path": str(e.path), "valid": e.info is not None, "error": e.error,
                     "info": e.info.to_dict() if e.info else None} for e in entries])
        return EXIT_OK
    if not entries:
        print(f"no backbone is installed (looked in {shipped_backbones_dir()} and "
              f"{user_backbones_dir()}); make one with 'medview models import-backbone FILE "
              "--name NAME --architecture ARCH --register' or a pretrain job")
        return EXIT_OK
    _print_backbones()
    return EXIT_OK


def _print_backbones() -> None:
    rows = [("NAME", "VERSION", "ARCHITECTURE", "SOURCE", "MADE BY")]
    for e in list_backbones():
        if e.info is None:
            rows.append((e.path.name, "?", "?", e.source, f"UNUSABLE: {e.error}"))
        else:
            rows.append((e.info.name, e.info.version, e.info.architecture, e.source,
                         e.info.method or e.info.source))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])


def _import_backbone(registry: Registry, args) -> int:
    from medview.inference.backbone_import import import_backbone

    result = import_backbone(Path(args.source), args.name, args.architecture, version=args.version,
                             out=args.out, register=args.register, replace_existing=args.replace)
    print(f"{result.report.summary()}")
    print(f"{'registered' if args.register else 'wrote'} backbone {result.info.name} "
          f"{result.info.version} ({result.info.architecture}) in {result.folder}; start a job "
          f"from it with \"model\": {{\"architecture\": \"{result.info.architecture}\", "
          f"\"backbone\": \"{result.info.name}\"}}")
    return EXIT_OK


def _show(registry: Registry, args) -> int:
    entry = registry.find(args.name, args.version)
    if args.json:
        print_json(_entry_json(entry))
        return EXIT_OK
    print(describe(entry.manifest, entry))
    return EXIT_OK


def _import(registry: Registry, args) -> int:
    entry = registry.import_model(Path(args.source), args.manifest, replace_existing=args.replace)
    print(f"imported {entry.name} {entry.version} into {entry.path}")
    return EXIT_OK


def _make_graph(registry: Registry, args) -> int:
    from medview.inference.registry import add_graph

    entry = add_graph(registry.find(args.name, args.version))
    print(f"made the ONNX graph of {entry.name} {entry.version}: {entry.graph_path} "
          f"(SHA-256 {entry.manifest.onnx.sha256[:12]}…)")
    return EXIT_OK


def _quantize(registry: Registry, args) -> int:
    from medview.core.errors import MedviewError
    from medview.inference.quantize import describe
    from trainer.int8 import quantize_entry

    entry = registry.find(args.name, args.version)
    try:
        entry, spec = quantize_entry(entry, args.run, progress=print)
    except ModelError:
        raise
    except (MedviewError, OSError) as err:  # the run's split or images
        raise CliError(f"{args.run}: {one_line(err, 300)}") from None
    print(f"{entry.name} {entry.version}: {describe(spec)}")
    return EXIT_OK


def _export_onnx(registry: Registry, args) -> int:
    from medview.inference.onnx_export import export_onnx

    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise CliError(f"{out}: output must be an .onnx file")
    loaded = registry.load(args.name, args.version)
    try:
        export_onnx(loaded.module, loaded.input_shape, out, dynamic_batch=True)
    except (RuntimeError, OSError) as err:
        raise CliError(f"{out}: ONNX export of '{loaded.key}' failed: "
                       f"{one_line(err, 300)}") from None
    print(f"wrote {out} (input 'input' N×{'×'.join(map(str, loaded.input_shape))}, "
          f"output 'output' {_output_text(loaded.manifest)})")
    return EXIT_OK


_ACTIONS = {"list": _list, "show": _show, "import": _import, "make-graph": _make_graph,
            "quantize": _quantize, "export-onnx": _export_onnx,
            "backbones": _backbones, "import-backbone": _import_backbone}


def describe(manifest: Manifest, entry: ModelEntry | None = None) -> str:
    """A model's manifest and card as readable text."""
    card = manifest.card
    lines = [
        f"{manifest.name} {manifest.version} ({manifest.task})",
        f"  architecture: {manifest.architecture.name}"
        + (f" {json.dumps(manifest.architecture.arguments)}" if manifest.architecture.arguments
           else ""),
        f"  classes: {', '.join(manifest.classes)} ({manifest.activation})",
        f"  input: {manifest.input.size[0]}x{manifest.input.size[1]}, "
        f"{manifest.input.channels} channel(s)",
        f"  preprocessing: {json.dumps(manifest.to_dict()['preprocessing'])}",
        f"  thresholds: {json.dumps(manifest.thresholds) if manifest.thresholds else 'default'}",
        f"  intended use: {card.intended_use}",
        f"  training data: {card.training_data}",
        f"  metrics: {json.dumps(card.metrics) if card.metrics else 'none given'}",
        f"  date: {card.date}",
    ]
    if card.limitations:
        lines.append(f"  limitations: {card.limitations}")
    if manifest.int8 is not None:
        from medview.inference.quantize import describe as int8_text

        lines.append(f"  {int8_text(manifest.int8)}")
    if entry is not None:
        lines.append(f"  folder: {entry.path} ({entry.source})")
    return "\n".join(lines)


def _entry_json(entry: ModelEntry) -> dict:
    return {"name": entry.name, "version": entry.version, "source": entry.source,
            "path": str(entry.path), "valid": entry.valid, "error": entry.error,
            "manifest": entry.manifest.to_dict() if entry.manifest else None}


def _output_text(manifest: Manifest) -> str:
    k = len(manifest.classes)
    h, w = manifest.input.size
    return f"N×{k} logits" if manifest.task == "classification" else f"N×{k}×{h}×{w} logits"

