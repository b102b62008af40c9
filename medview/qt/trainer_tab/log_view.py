"""The job's log: the trainer's messages and one line per milestone, coloured by level."""

from __future__ import annotations

import html
from datetime import datetime

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from medview.qt import theme

__all__ = ["LogView", "describe_event"]

MAX_LINES = 5000
_COLOURS = {"debug": theme.TEXT_DISABLED, "info": theme.TEXT, "warning": theme.WARNING,
            "error": theme.ERROR}


def _f(v, digits: int = 4) -> str:
    return "—" if v is None else f"{v:.{digits}g}"


def describe_event(e, pretrain: bool = False) -> tuple[str, str] | None:
    """(level, text) of an event worth a log line; None for batch events (the chart shows them).
    ``pretrain``: the event of a pre-training job (no validation)."""
    kind = e.type
    if kind == "log":
        return e.level, e.message
    if kind == "job_started":
        d = e.dataset
        if e.task == "pretrain":  # unlabelled images: no classes, no split
            studies = f" from {d['n_studies']} studies" if d.get("n_studies") else ""
            return "info", f"started: pre-training {e.model} on {e.device}; {d.get('n_images')} images{studies}"
        counts = ", ".join(f"{k} {v}" for k, v in (d.get("counts") or {}).items())
        s = e.split
        return "info", (f"started: {e.task}, model {e.model} on {e.device}; {d.get('n_samples')} images "
                        f"({counts}); split train {s.get('train')} / val {s.get('val')} / test {s.get('test')}")
    if kind == "epoch_end":
        if pretrain:  # nothing to validate on; its measures (e.g. the representations' spread) follow
            measures = "".join(f", {k} {_f(v, 3)}" for k, v in e.metrics.items())
            return "info", f"epoch {e.epoch}/{e.epochs}: loss {_f(e.train_loss)}{measures}; lr {e.lr:.3g}"
        metrics = ", ".join(f"{k} {_f(v, 3)}" for k, v in e.metrics.items())
        return "info", (f"epoch {e.epoch}/{e.epochs}: train loss {_f(e.train_loss)}, validation loss "
                        f"{_f(e.val_loss)}; {metrics}; lr {e.lr:.3g}")
    if kind == "checkpoint_saved":
        name = e.metric_name or "metric"
        if e.metric is None:
            return "info", f"checkpoint saved (epoch {e.epoch})"
        return "info", f"checkpoint saved (epoch {e.epoch}, validation {name} {_f(e.metric, 3)})"
    if kind == "evaluation":
        metrics = ", ".join(f"{k} {_f(v, 3)}" for k, v in e.metrics.items())
        return "info", f"test set evaluation: {metrics}"
    if kind == "finished":
        if e.model.endswith(".json"):  # a hyper-parameter search: its result is a job file
            return "info", f"finished: the best settings are in {e.model}"
        return "info", f"finished: {'backbone' if pretrain else 'model'} in {e.model}"
    if kind == "failed":
        text = f"FAILED: {e.reason}"
        if e.detail:
            text += "\n" + e.detail.rstrip()
        return "error", text
    if kind == "cancelled":
        return "warning", "cancelled (the last checkpoint can be resumed)"
    return None


def _local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return ""


class LogView(QPlainTextEdit):
    """Read-only, bounded (the oldest lines go first), selectable and copyable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setPlaceholderText("Messages from the trainer appear here.")
        self.pretrain = False  # the followed job pre-trains (set by the job page)

    def add_events(self, events) -> None:
        for e in events:
            d = describe_event(e, self.pretrain)
            if d is not None:
                self.appendHtml(self._html(_local_time(e.time), *d))

    def add_line(self, level: str, text: str, when: str = "") -> None:
        self.appendHtml(self._html(when, level, text))

    @staticmethod
    def _html(when: str, level: str, text: str) -> str:
        colour = _COLOURS.get(level, theme.TEXT)
        body = html.escape(text).replace("\n", "<br>")
        stamp = f'<span style="color:{theme.TEXT_DIM}">{when}</span> ' if when else ""
        return f'{stamp}<span style="color:{colour}">{body}</span>'
