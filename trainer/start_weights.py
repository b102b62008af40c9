"""Starting weights put into a freshly built network, tensor by tensor, saying what happened.

Three things go wrong silently if tensors are only matched by name and shape:

* **Classes by position.** A base model's output layer has one row per class; a data set
  with the same number of classes in another order (or other classes) would inherit the
  wrong rows (a "clear" output that is the old "lesion"). Rows are matched by class
  *name*: reordered when the class sets are equal, copied as the job's
  ``model.class_map`` says when they differ, else the output layer starts fresh.
* **The input stem.** RGB weights into a grey model: the first convolution's filters are
  summed over the colour axis (the usual practice; timm's ``adapt_input_conv``), not
  dropped.
* **What stays fresh.** Every tensor not loaded is reported by name at warning level,
  and the caller keeps fresh layers out of the frozen backbone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from medview.inference.backbone_layout import adapt_input_conv
from trainer.errors import JobFailed

__all__ = ["StartReport", "output_classes", "classes_differ", "output_layer", "class_rows",
           "adapt_input_conv", "load_start_weights"]

#: Names listed in one log line before "and N more".
_NAME_LIMIT = 20
#: BatchNorm step counters: copied when present, never counted or reported (not weights,
#: and torchvision's published files lack them).
_COUNTER = "num_batches_tracked"


@dataclass
class StartReport:
    """What :func:`load_start_weights` did.

    Attributes
    ----------
    loaded : list of str
        Tensors copied as they were (or with their class rows reordered); BatchNorm step
        counters are copied too but not listed.
    adapted : list of str
        Input convolutions adapted to the model's input channels.
    fresh : list of str
        Tensors left at their random initialisation.
    """

    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)


def output_classes(task: str, classes: list[str]) -> list[str]:
    """The outputs of a network trained on a data set's ``classes``.

    Two-class segmentation has one sigmoid output, the foreground class; otherwise one
    output per class (background included).
    """
    if task == "segmentation" and len(classes) == 2:
        return [classes[1]]
    return list(classes)


def classes_differ(base_classes: list[str], task: str, classes: list[str]) -> bool:
    """Whether a base model's outputs and a data set's classes are other names (not
    merely another order): fine-tuning then needs a ``model.class_map`` to keep the head."""
    return sorted(base_classes) != sorted(output_classes(task, classes))


def output_layer(module, n_outputs: int) -> str | None:
    """Name of the network's output layer (``fc``, ``classifier.3``, ``segmentation_head.0``).

    The last Linear or Conv2d in registration order with ``n_outputs`` output units: the
    head of torchvision classifiers and of segmentation_models_pytorch networks; None if
    the last such layer has another width.
    """
    from torch import nn

    layers = [(n, m) for n, m in module.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if not layers:
        return None
    name, last = layers[-1]
    return name if last.weight.shape[0] == n_outputs else None


def class_rows(base: list[str], new: list[str], class_map: dict[str, str | None] | None
               ) -> tuple[list[int | None], str]:
    """For each new class, the base model's output row it starts from (None: fresh).

    Parameters
    ----------
    base, new : list of str
        Class names of the base model's outputs and of the network being trained.
    class_map : dict, optional
        The job's ``model.class_map``: new class → base class (or None: start fresh).
        Classes it does not list keep the base row of the same name, if any.

    Returns
    -------
    rows : list
        ``rows[i]`` is the base row for ``new[i]``.
    how : str
        ``"same"``, ``"reordered"``, ``"mapped"`` or ``"differ"`` (no map, other classes:
        the rows are all None).

    Raises
    ------
    JobFailed
        If the map names a class the data set or the base model does not have.
    """
    if class_map is None:
        if list(base) == list(new):
            return list(range(len(new))), "same"
        if sorted(base) == sorted(new):
            return [base.index(c) for c in new], "reordered"
        return [None] * len(new), "differ"
    for key, value in class_map.items():
        if key not in new:
            raise JobFailed(f"job field 'model.class_map': '{key}' is not a class of the data set "
                            f"({', '.join(new)})")
        if value is not None and value not in base:
            raise JobFailed(f"job field 'model.class_map.{key}': '{value}' is not a class of the "
                            f"base model ({', '.join(base)})")
    rows = []
    for c in new:
        target = class_map[c] if c in class_map else (c if c in base else None)
        rows.append(base.index(target) if target is not None else None)
    return rows, "mapped"


def load_start_weights(module, state: dict, source: str, in_channels: int, classes: list[str],
                       sink, base_classes: list[str] | None = None,
                       class_map: dict[str, str | None] | None = None) -> StartReport:
    """Copy ``state`` into ``module`` where it fits, adapting the input stem and the class rows.

    Parameters
    ----------
    module : torch.nn.Module
        The freshly built network.
    state : dict
        Starting tensors (a base model's state dict or a weights file).
    source : str
        Where they came from, for the log.
    in_channels : int
        The network's input channels.
    classes : list of str
        The network's output classes.
    sink : EventSink
        Receives one warning per kind of tensor adapted or left fresh, naming them.
    base_classes : list of str, optional
        Class names of ``state``'s outputs (a registered base model); None for a weights
        file, whose output layer is then loaded by position (and the log says so).
    class_map : dict, optional
        The job's ``model.class_map``.

    Raises
    ------
    JobFailed
        If no tensor fits, or ``class_map`` names an unknown class.
    """
    own = module.state_dict()
    head = output_layer(module, len(classes))
    if head is None and base_classes is not None and list(base_classes) != list(classes):
        raise JobFailed(f"cannot match the classes of {source} ({', '.join(base_classes)}) to the data "
                        f"set's ({', '.join(classes)}): the network's output layer was not found")
    report = StartReport()
    fits = {}
    for name, target in own.items():
        value = state.get(name)
        if head is not None and name.rpartition(".")[0] == head:
            continue  # class rows: below
        if value is None:
            if not name.endswith(_COUNTER):
                report.fresh.append(name)
        elif tuple(value.shape) == tuple(target.shape):
            fits[name] = value
        elif _is_input_conv(value, target, in_channels):
            fits[name] = adapt_input_conv(value, in_channels)
            report.adapted.append(name)
        else:
            report.fresh.append(name)
    if not fits:
        raise JobFailed(f"the starting weights ({source}) do not fit this architecture: no tensor "
                        "has a matching name and shape")
    if head is not None:
        fits.update(_head_tensors(own, state, head, source, classes, base_classes, class_map, report, sink))
    module.load_state_dict(fits, strict=False)
    report.loaded = [k for k in fits if k not in report.adapted and not k.endswith(_COUNTER)]
    _log(report, source, in_channels, sink)
    return report


def _is_input_conv(value, target, in_channels: int) -> bool:
    """A convolution that differs only in its input channels, which are the network's."""
    return (value.ndim == 4 and target.ndim == 4 and value.shape[0] == target.shape[0]
            and value.shape[2:] == target.shape[2:] and target.shape[1] == in_channels
            and value.shape[1] != in_channels and value.shape[1] in (1, 3))


def _head_tensors(own: dict, state: dict, head: str, source: str, classes: list[str],
                  base_classes: list[str] | None, class_map, report: StartReport, sink) -> dict:
    names = [k for k in own if k.rpartition(".")[0] == head]
    olds = {k: state.get(k) for k in names}
    if any(v is None or v.shape[1:] != own[k].shape[1:] for k, v in olds.items()):
        report.fresh.extend(names)
        return {}
    if base_classes is None:
        if any(v.shape != own[k].shape for k, v in olds.items()):
            report.fresh.extend(names)
            return {}
        sink.log("warning", f"the output layer '{head}' of {source} was loaded by position: a "
                            f"weights file carries no class names, so its outputs are taken to be "
                            f"{', '.join(classes)} in this order")
        return dict(olds)
    rows, how = class_rows(list(base_classes), list(classes), class_map)
    if how == "differ":
        suggestion = {c: (c if c in base_classes else None) for c in classes}
        sink.log("warning", f"the classes differ: {source} has {', '.join(base_classes)}, the data "
                            f"set has {', '.join(classes)}; the output layer '{head}' is NOT "
                            "loaded and starts fresh. To carry outputs over, map each class in "
                            f"the job: \"model\": {{\"class_map\": {json.dumps(suggestion)}}} "
                            "(new class: base class, or null for fresh)")
    elif how == "reordered":
        sink.log("info", f"classes matched by name: {source} has {', '.join(base_classes)}, the "
                         f"data set {', '.join(classes)}; the output rows were reordered")
    elif how == "mapped":
        pairs = ", ".join(f"{c} ← {base_classes[r]}" if r is not None else f"{c} ← (fresh)"
                          for c, r in zip(classes, rows))
        sink.log("info", f"classes mapped by model.class_map: {pairs}")
    if all(r is None for r in rows):
        report.fresh.extend(names)
        return {}
    out = {}
    for k, old in olds.items():
        new = own[k].clone()
        for i, r in enumerate(rows):
            if r is not None:
                new[i] = old[r]
        out[k] = new
    return out


def _log(report: StartReport, source: str, in_channels: int, sink) -> None:
    if report.adapted:
        sink.log("warning", f"input convolution adapted to {in_channels} channel(s) "
                            f"({'RGB filters summed' if in_channels == 1 else 'filters repeated and scaled'}): "
                            f"{_names(report.adapted)}")
    if report.fresh:
        sink.log("warning", f"{len(report.fresh)} tensor(s) start fresh (random), not taken from "
                            f"{source}: {_names(report.fresh)}")
    used = len(report.loaded) + len(report.adapted)
    share = f"{used} of {used + len(report.fresh)}" if report.fresh else f"all {used}"
    sink.log("info", f"{share} tensors loaded from {source}")


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:_NAME_LIMIT])
    return shown + (f" and {len(names) - _NAME_LIMIT} more" if len(names) > _NAME_LIMIT else "")
