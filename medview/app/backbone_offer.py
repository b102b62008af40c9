"""Which registered backbones a new job may start from, and how they are described (no Qt).

A torchvision classifier starts from a backbone of its own architecture; a segmentation
network (fpn, unet, ...) takes one as its encoder (``arguments.encoder_name``), so it is
offered every backbone that is also an encoder (:data:`SMP_ENCODERS`), or only the
encoder the job names. :mod:`medview.inference.backbone_layout` decides what fits.
"""

from __future__ import annotations

from medview.core.imports import load

__all__ = ["latest_backbones", "fits", "model_with_backbone", "describe", "summary_rows"]


def latest_backbones(entries) -> list:
    """One :class:`BackboneInfo` per name, the one a job naming it gets: the last of
    :func:`list_backbones`'s entries (sorted by name and version, user after shipped).
    Unreadable entries are left out."""
    last = {e.info.name: e.info for e in entries if e.info is not None}
    return [last[n] for n in sorted(last)]


def fits(info, architecture: str, arguments: dict | None = None) -> bool:
    """Whether a network of ``architecture`` (with ``arguments``) can start from backbone ``info``."""
    layout = load("medview.inference.backbone_layout")
    architectures = load("medview.inference.architectures")

    try:
        arch = architectures.get_architecture(architecture)
    except ValueError:
        return False
    if arch.library == "torchvision":
        return layout.family_of(architecture) == info.architecture
    if arch.library != "segmentation_models_pytorch":  # medview's own networks start from none
        return False
    encoder = (arguments or {}).get("encoder_name")
    return info.architecture == encoder if encoder else info.architecture in layout.SMP_ENCODERS


def model_with_backbone(model: dict, info) -> dict:
    """The job's ``model`` starting from ``info``: a segmentation network gets the backbone's
    architecture as its encoder."""
    architectures = load("medview.inference.architectures")

    out = {**model, "backbone": info.name}
    if architectures.get_architecture(model["architecture"]).library != "torchvision":
        out["arguments"] = {**model.get("arguments", {}), "encoder_name": info.architecture}
    return out


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def describe(info) -> str:
    """One line for a list: ``"clinic 2 — resnet18 pre-trained on 2,134 images (311 studies)"``."""
    made = f"pre-trained on {_count(info.images, 'image', 'images')}" if info.images else "pre-trained"
    if info.images and info.studies:
        made += f" ({_count(info.studies, 'study', 'studies')})"
    return f"{info.name} {info.version} — {info.architecture} {made}"


def summary_rows(info) -> list[tuple[str, str]]:
    """(label, value) rows that say what a backbone is and what it was made from."""
    format_duration = load("medview.app.job_progress").format_duration

    rows = [("Name", f"{info.name} {info.version}"), ("Network", info.architecture),
            ("Images", f"{info.images:,}"), ("Studies", f"{info.studies:,}" if info.studies else "not recorded"),
            ("Training time", format_duration(info.duration_s))]
    if info.method:
        rows.append(("Method", info.method))
    if info.datasets:
        rows.append(("Folders", "\n".join(info.datasets)))
    rows.append(("Made", info.created.replace("T", " ")[:16]))
    if info.source:
        rows.append(("How", info.source))
    return rows
