"""Step 2 of a new job: the starting model, where its weights start, a preset, a time
budget, and (Advanced) every field.

The form produces the job as the JSON object ``trainer/JOBS.md`` documents and checks
it with the trainer's own validator (:func:`trainer.config.parse_job`) as it changes,
so a mistake is named (field and reason) before anything is queued.

Presets (:data:`trainer.config.PRESETS`; the trainer's recipe, :mod:`trainer.recipe`,
chooses what a job leaves out from the data set and the time budget):

* **Quick fine-tune** — about 10 minutes; a start from trained weights is also trained
  from random weights and the better is kept.
* **Full fine-tune** — about 30 minutes.
* **Advanced** — every field in a form, used as written.

A new network (an architecture) starts from random weights or from a registered
backbone that fits it (:class:`~.start_from.StartFrom`: ``"model": {..., "backbone": NAME}``).
The time budget writes ``"time_budget_minutes"``; the trainer plans the run to fit it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QRadioButton, QSpinBox, QVBoxLayout,
                               QWidget)

from medview.core.imports import load
from medview.qt import theme
from medview.qt.trainer_tab.start_from import StartFrom
from medview.qt.trainer_tab.time_budget import TimeBudgetField

__all__ = ["SetupForm", "ADVANCED_FIELDS", "default_name"]

PRESET_TEXT = {
    "quick": ("Quick fine-tune", "About 10 minutes. medview chooses the image size, epochs and augmentation from "
                                 "your images; a start from trained weights is also tried from random weights, and "
                                 "the better on validation is kept."),
    "full": ("Full fine-tune", "About 30 minutes: the same self-configuring training with more time, usually a "
                               "better model. Stops early when validation stops improving."),
    "advanced": ("Advanced", "Every setting in a form, for experts: the values below are used as written."),
}

# (dotted key, label, kind, default, extra). kind: int, float, optfloat, choice, bool, text, auto_int
ADVANCED_FIELDS: list[tuple[str, str, str, Any, Any]] = [
    ("dataset.check_pixels", "Decode every image first (slower; bad files found up front)", "bool", False, None),
    ("dataset.class_names", "Segmentation class names, comma-separated, background first", "text", "", None),
    ("model.weights", "Starting weights for an architecture (.safetensors / .pth file)", "text", "", None),
    ("epochs", "Epochs", "int", 30, (1, 10000)),
    ("freeze_epochs", "Epochs with frozen backbone", "int", 2, (0, 10000)),
    ("early_stopping", "Stop after epochs without improvement (0 = never)", "int", 8, (0, 10000)),
    ("min_delta", "Smallest improvement that counts", "float", 0.0, None),
    ("monitor", "Metric that picks the best epoch", "choice", "auto", "MONITORS"),
    ("batch_size", "Batch size", "int", 16, (1, 4096)),
    ("optimizer", "Optimizer", "choice", "adamw", "OPTIMIZERS"),
    ("lr", "Learning rate", "float", 1e-3, None),
    ("backbone_lr_factor", "Backbone learning-rate factor (blank = trainer's choice)", "optfloat", None, None),
    ("weight_decay", "Weight decay", "float", 1e-4, None),
    ("momentum", "Momentum (SGD)", "float", 0.9, None),
    ("scheduler", "Learning-rate schedule", "choice", "cosine", "SCHEDULERS"),
    ("step_size", "Step schedule: epochs per step", "int", 10, (1, 10000)),
    ("gamma", "Step schedule: factor", "float", 0.1, None),
    ("plateau_patience", "Plateau schedule: patience", "int", 3, (0, 10000)),
    ("class_weights", "Class weights", "choice", "balanced", ("balanced", "none")),
    ("augment.flip", "Augment: mirror left-right", "bool", True, None),
    ("augment.vflip", "Augment: flip upside down", "bool", False, None),
    ("augment.rotate", "Augment: rotate ± degrees", "float", 10.0, None),
    ("augment.scale", "Augment: scale ± fraction", "float", 0.1, None),
    ("augment.brightness", "Augment: brightness ± fraction", "float", 0.1, None),
    ("augment.contrast", "Augment: contrast ± fraction", "float", 0.1, None),
    ("augment.paste", "Augment: pasted lesions, share (masks)", "float", 0.0, None),
    ("split.val", "Validation share", "float", 0.15, None),
    ("split.test", "Test share", "float", 0.15, None),
    ("split.seed", "Split seed", "int", 0, (0, 2**31 - 1)),
    ("threshold.method", "Threshold chosen by", "choice", "youden", ("youden", "sensitivity")),
    ("threshold.target_sensitivity", "Target sensitivity (method 'sensitivity')", "optfloat", None, None),
    ("positive_class", "Positive class (two classes)", "positive", None, None),
    ("input.size", "Input size, pixels (architecture only; 0 = default)", "int", 0, (0, 2048)),
    ("input.channels", "Input channels (architecture only)", "choice", "default", ("default", "1", "3")),
    ("seed", "Random seed", "int", 0, (0, 2**31 - 1)),
    ("workers", "Data loader processes (-1 = auto)", "int", -1, (-1, 64)),
    ("cache", "Keep prepared images in memory", "choice", "auto", ("auto", "yes", "no")),
    ("device", "Device", "choice", "auto", "DEVICES"),
    ("card.intended_use", "Model card: intended use", "text", "", None),
    ("card.limitations", "Model card: limitations", "text", "", None),
    ("card.authors", "Model card: authors", "text", "", None),
    ("card.demo", "Model card: demo / synthetic data", "bool", False, None),
]

AUTO_TEXT = ("auto — new network chosen from your data (a lesion map when masks show small findings, "
             "else resnet18; fpn for outlines)")

MODEL_TIP = ("What to train. A registered model is adapted to your cases and keeps its input size and "
             "preprocessing; a new network is built for them (its starting weights: Start from).")
BUDGET_TIP = ("The longest this training may take. medview then chooses the image size, epochs and batch "
              "size so that it finishes in time, and keeps the best model it reached. Left at 0, the preset "
              "decides (Quick 10 min, Full 30 min; with the epochs set in Advanced, no limit).")


def default_name(dataset_path: str | None, task: str | None) -> str:
    """The name the trainer gives a job without one (folder or CSV name + task)."""
    if not dataset_path:
        return "model"
    p = Path(dataset_path)
    stem = p.stem if p.suffix.lower() == ".csv" else p.name
    if stem.lower() == "labels" and p.suffix.lower() == ".csv":
        stem = p.parent.name
    slug = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._") or "model"
    suffix = {"classification": "-classifier", "segmentation": "-segmenter"}.get(task or "", "")
    return slug[: 64 - len(suffix)] + suffix


def _set_nested(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        data = data.setdefault(p, {})
    data[parts[-1]] = value


class SetupForm(QWidget):
    """The starting model, the preset and the advanced fields.

    Signals
    -------
    changed()
        Anything changed (debounced); :attr:`error` says whether the job is valid.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        config = load("trainer.config")

        self._config = config
        self.dataset_path: str | None = None
        self.derived = None  # the IntendedInput the data set's DICOM tags imply
        self.task: str | None = None
        self.classes: list[str] = []
        self.entries: list = []
        self.error: str | None = "choose the labelled images first"
        self.fields: dict[str, QWidget] = {}
        self._preset_chosen = False  # the user picked a preset: keep it when the model list changes
        self._model_chosen = False  # … and a model: keep it (else the best default is re-picked)
        self._timer = QTimer(self, singleShot=True, interval=120)
        self._timer.timeout.connect(self._validate)
        self._build()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("model")
        self.name_edit.setToolTip("The name the model gets in the AI panel (lower-case letters, digits, - _ .)")
        self.version_edit = QLineEdit()
        self.version_edit.setPlaceholderText("today's date and time")
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(30)
        self.model_combo.setToolTip(MODEL_TIP)
        self.start_from = StartFrom()
        self.start_from.changed.connect(self._changed)
        head = QGridLayout()
        head.addWidget(QLabel("<b>2. Starting model</b>"), 0, 0)
        head.addWidget(self.model_combo, 0, 1, 1, 3)
        head.addWidget(self.start_from, 1, 1, 1, 3)
        head.addWidget(QLabel("Name"), 2, 0)
        head.addWidget(self.name_edit, 2, 1)
        head.addWidget(QLabel("Version"), 2, 2)
        head.addWidget(self.version_edit, 2, 3)
        head.setColumnStretch(1, 2)
        head.setColumnStretch(3, 1)

        self.preset_group = QButtonGroup(self)
        presets = QHBoxLayout()
        self.preset_buttons: dict[str, QRadioButton] = {}
        self.preset_help = theme.note_label()
        presets.addWidget(QLabel("<b>3. How to train</b>"))
        for key in self._config.PRESETS:
            b = QRadioButton(PRESET_TEXT[key][0])
            b.setToolTip(PRESET_TEXT[key][1])
            self.preset_group.addButton(b)
            self.preset_buttons[key] = b
            presets.addWidget(b)
            b.toggled.connect(self._preset_toggled)
        presets.addStretch(1)
        self.time_budget = TimeBudgetField()
        self.time_budget.setToolTip(BUDGET_TIP)
        self.time_budget.changed.connect(self._changed)
        budget = QHBoxLayout()
        budget_label = QLabel("Time budget")
        budget_label.setToolTip(BUDGET_TIP)
        budget.addWidget(budget_label)
        budget.addWidget(self.time_budget, 1)
        self.intended_box = self._build_intended()

        self.advanced = QGroupBox("Advanced settings")
        cols = QHBoxLayout(self.advanced)
        forms = [QFormLayout(), QFormLayout()]
        for f in forms:
            f.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            f.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            cols.addLayout(f, 1)
        half = (len(ADVANCED_FIELDS) + 1) // 2
        for i, (key, label, kind, default, extra) in enumerate(ADVANCED_FIELDS):
            w = self._field_widget(kind, default, extra)
            w.setObjectName(key)
            self.fields[key] = w
            forms[0 if i < half else 1].addRow(label, w)
        self.arguments_edit = QLineEdit()
        self.arguments_edit.setPlaceholderText('{"encoder_name": "resnet18"}')
        self.arguments_edit.setToolTip("Keyword arguments of the architecture (JSON), e.g. the encoder of a "
                                       "segmentation network")
        forms[1].addRow("Architecture arguments (JSON)", self.arguments_edit)
        self.extra_edit = QLineEdit()
        self.extra_edit.setPlaceholderText('{"preprocessing": {...}, "normalisation": {...}}')
        self.extra_edit.setToolTip("Any other job fields (trainer/JOBS.md), as a JSON object merged last")
        forms[1].addRow("Other job fields (JSON)", self.extra_edit)
        self.advanced.hide()

        self.error_label = theme.note_label(colour=theme.ERROR)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.intended_box)
        lay.addLayout(presets)
        lay.addWidget(self.preset_help)
        lay.addLayout(budget)
        lay.addWidget(self.advanced)
        lay.addWidget(self.error_label)

        for w in (self.name_edit, self.version_edit, self.arguments_edit, self.extra_edit):
            w.textChanged.connect(self._changed)
        self.model_combo.currentIndexChanged.connect(self._changed)
        self.model_combo.activated.connect(lambda _i: setattr(self, "_model_chosen", True))
        self.preset_buttons["quick"].setChecked(True)
        self.preset_group.buttonClicked.connect(lambda _b: setattr(self, "_preset_chosen", True))

    def _build_intended(self) -> QGroupBox:
        """What the model is for: checked before every analysis (manifest ``intended_input``)."""
        box = QGroupBox("What the model is for (checked before every analysis)")
        grid = QGridLayout(box)
        self.intended_edits: dict[str, QLineEdit] = {}
        for col, (key, label, example) in enumerate((
                ("modalities", "Modalities", "DX, CR"), ("body_parts", "Body parts", "CHEST"),
                ("views", "Views", "PA, AP"))):
            edit = QLineEdit()
            edit.setPlaceholderText(f"any (e.g. {example})")
            edit.setToolTip("DICOM terms, comma-separated; empty means any. Images whose "
                            "header says otherwise are refused unless a person runs them anyway.")
            edit.textChanged.connect(self._changed)
            self.intended_edits[key] = edit
            grid.addWidget(QLabel(label), 0, 2 * col)
            grid.addWidget(edit, 0, 2 * col + 1)
        self.plain_images_check = QCheckBox("Plain images (PNG, JPEG) too")
        self.plain_images_check.setToolTip("They record no modality or body part, so nothing "
                                           "about them can be checked")
        self.plain_images_check.toggled.connect(self._changed)
        grid.addWidget(self.plain_images_check, 1, 0, 1, 2)
        self.intended_note = theme.note_label()
        grid.addWidget(self.intended_note, 2, 0, 1, 6)
        return box

    def set_intended(self, intended) -> None:
        """Fill the fields from what the data set's DICOM tags say (None: nothing known);
        a data set that records no modality asks the user to say it."""
        self.derived = intended
        for key, edit in self.intended_edits.items():
            edit.blockSignals(True)
            edit.setText(", ".join(getattr(intended, key, ()) or ()))
            edit.blockSignals(False)
        self.plain_images_check.setChecked(bool(intended is None or intended.non_dicom))
        if intended is not None and not intended.modalities:
            self.intended_note.setText(
                "These images record no modality or body part: say what the model is for "
                "(e.g. DX, CHEST, PA), or it will analyse any image unchecked.")
            self.intended_note.setStyleSheet(f"color: {theme.WARNING};")
        else:
            self.intended_note.setText("Taken from the images' DICOM tags; edit to widen or "
                                       "narrow it.")
            self.intended_note.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self._changed()

    def intended_input(self) -> dict | None:
        """The job's ``intended_input``: the fields as edited, with the sizes, spacings and
        photometric interpretations the data set showed (None before a data set is read)."""
        if self.derived is None:
            return None
        data = self.derived.to_json()
        for key, edit in self.intended_edits.items():
            data[key] = [t.strip() for t in edit.text().split(",") if t.strip()]
        data["non_dicom"] = self.plain_images_check.isChecked()
        if not data["modalities"] and not data["body_parts"]:
            data["photometric"] = []  # nothing declared: do not refuse on photometric alone
        return data

    def _field_widget(self, kind: str, default, extra) -> QWidget:
        if kind == "int":
            w = QSpinBox()
            w.setRange(*extra)
            w.setValue(default)
            if extra[0] == -1:
                w.setSpecialValueText("auto")
            elif extra[0] == 0 and default == 0 and extra[1] == 2048:
                w.setSpecialValueText("default")
            w.valueChanged.connect(self._changed)
        elif kind in ("float", "optfloat", "text"):
            w = QLineEdit("" if default is None else (f"{default:g}" if kind != "text" else default))
            w.textChanged.connect(self._changed)
        elif kind == "bool":
            w = QCheckBox()
            w.setChecked(default)
            w.toggled.connect(self._changed)
        elif kind in ("choice", "positive"):
            w = QComboBox()
            options = getattr(self._config, extra) if isinstance(extra, str) else (extra or ("auto",))
            if kind == "positive":
                options = ("auto",)
            w.addItems(list(options))
            w.setCurrentText(str(default) if default is not None else "auto")
            w.currentIndexChanged.connect(self._changed)
        else:  # pragma: no cover - a typo in ADVANCED_FIELDS
            raise ValueError(kind)
        return w

    # ------------------------------------------------------------------ inputs

    def set_dataset(self, dataset) -> None:
        """The discovered data set (None: none yet): task, classes, default name."""
        self.dataset_path = dataset.summary.source if dataset is not None else None
        self.task = dataset.task if dataset is not None else None
        self.classes = list(dataset.classes) if dataset is not None else []
        self.name_edit.setPlaceholderText(default_name(self.dataset_path, self.task))
        pos = self.fields["positive_class"]
        pos.blockSignals(True)
        pos.clear()
        pos.addItems(["auto"] + (self.classes if self.task == "classification" and len(self.classes) == 2 else []))
        pos.blockSignals(False)
        self._fill_models()
        self._changed()

    def set_models(self, entries) -> None:
        """Registered models (:meth:`Registry.available` entries), listed in a pool thread."""
        self.entries = list(entries)
        self._fill_models()

    def _fill_models(self) -> None:
        from medview.inference.architectures import ARCHITECTURES

        auto = load("trainer.config").AUTO_ARCHITECTURE
        previous = self.model_combo.currentData() if self._model_chosen else None
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        task = self.task
        for e in self.entries:
            m = e.manifest
            if m is None or (task and m.task != task):
                continue
            size = "×".join(map(str, m.input.size))
            self.model_combo.addItem(f"{m.name} {m.version} — registered {m.task} model, {size}, "
                                     f"classes {', '.join(m.classes)}", _key({"base": m.name, "version": m.version}))
        n_registered = self.model_combo.count()
        if n_registered:
            self.model_combo.insertSeparator(n_registered)
        self.model_combo.addItem(AUTO_TEXT, _key({"architecture": auto}))
        for name, arch in sorted(ARCHITECTURES.items()):
            if task and arch.task != task:
                continue
            self.model_combo.addItem(f"{name} — new network", _key({"architecture": name}))
        index = self.model_combo.findData(previous) if previous else -1
        if index < 0:
            index = 0 if n_registered else self.model_combo.findData(
                _key({"architecture": auto}))
        self.model_combo.setCurrentIndex(max(0, index))
        self.model_combo.blockSignals(False)
        if not self._preset_chosen:  # nothing to fine-tune gently: train the whole network
            self.preset_buttons["quick" if n_registered else "full"].setChecked(True)
        self._changed()

    def set_backbones(self, entries) -> None:
        """Registered backbones (:func:`list_backbones` entries), listed in a pool thread."""
        self.start_from.set_backbones(entries)

    def set_preset(self, preset: str) -> None:
        self.preset_buttons[preset].setChecked(True)

    def select_model(self, spec: dict) -> bool:
        """Choose a model by its job value, e.g. ``{"architecture": "mobilenet_v3_small"}``."""
        i = self.model_combo.findData(_key(spec))
        if i >= 0:
            self._model_chosen = True
            self.model_combo.setCurrentIndex(i)
        return i >= 0

    def set_field(self, key: str, value) -> None:
        """Set an advanced field (tests, and a job loaded from a file)."""
        w = self.fields[key]
        if isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            w.setCurrentText(str(value))
        else:
            w.setText("" if value is None else str(value))

    # ------------------------------------------------------------------ output

    @property
    def preset(self) -> str:
        for key, b in self.preset_buttons.items():
            if b.isChecked():
                return key
        return "quick"

    def model_spec(self) -> dict:
        """The chosen starting model as the job's ``model`` value (with its backbone, if any)."""
        data = self.model_combo.currentData()
        spec = json.loads(data) if isinstance(data, str) else {}
        return self.start_from.model(spec) if "architecture" in spec else spec

    def _sync_start_from(self) -> None:
        """Offer the backbones that fit the chosen network (and, in Advanced, its encoder)."""
        data = self.model_combo.currentData()
        spec = json.loads(data) if isinstance(data, str) else {}
        arguments = {}
        if self.preset == "advanced":
            try:
                arguments = json.loads(self.arguments_edit.text() or "{}")
            except ValueError:
                pass  # named by the validation
        architecture = spec.get("architecture")
        if architecture == load("trainer.config").AUTO_ARCHITECTURE:  # chosen by the recipe: no backbone
            architecture = None
        self.start_from.set_network(architecture, arguments if isinstance(arguments, dict) else {})

    def base_manifest(self):
        """The manifest of the registered model chosen as the starting point (None: an architecture)."""
        spec = self.model_spec()
        for e in self.entries:
            m = e.manifest
            if m is not None and "base" in spec and (m.name, m.version) == (spec["base"], spec.get("version")):
                return m
        return None

    def split_fractions(self) -> tuple[float, float, int]:
        """(validation share, test share, seed) the job will split with."""
        if self.preset != "advanced":
            return 0.15, 0.15, 0
        try:
            return (float(self.fields["split.val"].text()), float(self.fields["split.test"].text()),
                    self.fields["split.seed"].value())
        except ValueError:
            return 0.15, 0.15, 0

    def job_dict(self) -> dict:
        """The job object (``trainer/JOBS.md``); may be invalid — see :attr:`error`."""
        job: dict[str, Any] = {"preset": self.preset}
        if self.dataset_path:
            job["dataset"] = self.dataset_path
        if self.task:
            job["task"] = self.task
        model = self.model_spec()
        if self.name_edit.text().strip():
            job["name"] = self.name_edit.text().strip()
        if self.version_edit.text().strip():
            job["version"] = self.version_edit.text().strip()
        if self.preset == "advanced":
            dataset: dict[str, Any] = {"path": self.dataset_path} if self.dataset_path else {}
            for key, _label, kind, _default, _extra in ADVANCED_FIELDS:
                w = self.fields[key]
                if (key.startswith("input.") or key == "model.weights") and "architecture" not in model:
                    continue
                value = self._value(key, kind, w)
                if value is _SKIP or (key == "dataset.check_pixels" and value is False):
                    continue
                if key.startswith("dataset."):
                    dataset[key.split(".", 1)[1]] = (
                        [n.strip() for n in value.split(",") if n.strip()] if key == "dataset.class_names" else value)
                elif key == "model.weights":
                    model["weights"] = value
                else:
                    _set_nested(job, key, value)
            if len(dataset) > 1:
                job["dataset"] = dataset
            if "architecture" in model and self.arguments_edit.text().strip():  # a backbone's encoder stays
                model["arguments"] = {**json.loads(self.arguments_edit.text()), **model.get("arguments", {})}
            if self.extra_edit.text().strip():
                extra = json.loads(self.extra_edit.text())
                if not isinstance(extra, dict):
                    raise ValueError("other job fields must be a JSON object")
                job.update(extra)
        job["model"] = model
        if self.time_budget.minutes() is not None:
            job["time_budget_minutes"] = self.time_budget.minutes()
        intended = self.intended_input()
        if intended is not None and "intended_input" not in job:  # "other job fields" win
            job["intended_input"] = intended
        if "input" in job and not job["input"]:
            del job["input"]
        return job

    def _value(self, key: str, kind: str, w: QWidget):
        if isinstance(w, QSpinBox):
            v = w.value()
            if key == "workers" and v < 0:
                return "auto"
            if key == "input.size" and v == 0:
                return _SKIP
            return v
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QComboBox):
            text = w.currentText()
            if key == "cache":
                return {"auto": "auto", "yes": True, "no": False}[text]
            if key == "input.channels":
                return _SKIP if text == "default" else int(text)
            if key == "positive_class":
                return _SKIP if text == "auto" else text
            return text
        text = w.text().strip()
        if kind == "text":
            return text if text else _SKIP
        if kind == "optfloat" and not text:
            return _SKIP
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"job field '{key}': '{text}' is not a number") from None

    # ------------------------------------------------------------------ validation

    def _preset_toggled(self, on: bool) -> None:
        if not on:
            return
        self.preset_help.setText(PRESET_TEXT[self.preset][1])
        self.advanced.setVisible(self.preset == "advanced")
        self._changed()

    def _changed(self, *_args) -> None:
        self._sync_start_from()
        self._timer.start()

    def validate_now(self) -> str | None:
        self._timer.stop()
        self._validate()
        return self.error

    def _validate(self) -> None:
        if not self.dataset_path:
            self.error = "choose the labelled images first"
        else:
            try:
                job = self._config.parse_job(self.job_dict())
                self.error = None
                self.time_budget.set_automatic(job.time_budget_minutes)
            except ValueError as err:  # JobError, bad JSON, or a field that is not a number
                self.error = str(err)
        self.error_label.setText(self.error if self.error and self.dataset_path else "")
        self.error_label.setVisible(bool(self.error_label.text()))
        self.changed.emit()


_SKIP = object()


def _key(spec: dict) -> str:
    """Combo item data: the model spec as canonical JSON (compares by value)."""
    return json.dumps(spec, sort_keys=True)
