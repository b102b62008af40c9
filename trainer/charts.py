"""Charts of a training run as PNG files, drawn with OpenCV, Pillow and numpy (no matplotlib or Qt).

* :func:`confusion_png` — confusion matrix, counts and row percentages;
* :func:`roc_png` — ROC curve(s) with the AUC and the chosen operating point;
* :func:`curves_png` — training and validation loss, and the validation metric, by epoch;
* :func:`examples_png` — segmentation examples: image, true outline (green), predicted (red).

Every function writes its file atomically and returns the path. Text is drawn with the
bundled subset of Noto Sans CJK (``trainer/fonts``, SIL OFL 1.1; made by
``scripts/subset_cjk_font.py``), so class names in Chinese, Japanese or Korean show as
written: OpenCV's own Hershey fonts have ASCII only and drew each other character as "?".
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from trainer.checkpoints import atomic_write

__all__ = ["confusion_png", "roc_png", "curves_png", "examples_png"]

WHITE, BLACK, GREY, LIGHT = (255, 255, 255), (30, 30, 30), (120, 120, 120), (225, 225, 225)
# BGR
BLUE, ORANGE, GREEN, RED = (180, 110, 30), (20, 130, 240), (60, 170, 60), (40, 40, 220)
_FONT_FILE = "NotoSansCJK-subset.otf"
_PX_PER_SCALE = 30  # font pixels per unit of ``scale`` (cap height as OpenCV's Hershey font)
_ANCHORS = {"left": "lm", "center": "mm", "right": "rm"}  # horizontally; centred vertically


@lru_cache(maxsize=16)
def _font(scale: float) -> ImageFont.FreeTypeFont:
    path = resources.files("trainer").joinpath("fonts", _FONT_FILE)  # a file, also when frozen
    return ImageFont.truetype(str(path), max(6, round(scale * _PX_PER_SCALE)))


def _text(img, text: str, org, scale: float = 0.45, colour=BLACK, thickness: int = 1,
          anchor: str = "left") -> None:
    """Draw ``text`` with its vertical centre at ``org[1]``; ``anchor`` places ``org[0]``.

    The glyphs are rendered as an anti-aliased coverage mask and blended into ``img``
    (BGR) in ``colour``; ``thickness`` 2 or more draws them bold (stroked).
    """
    font, stroke = _font(scale), 1 if thickness > 1 else 0
    x, y = int(org[0]), int(org[1])
    left, top, right, bottom = font.getbbox(text, anchor=_ANCHORS[anchor], stroke_width=stroke)
    if right <= left or bottom <= top:
        return
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font,
                              anchor=_ANCHORS[anchor], stroke_width=stroke, stroke_fill=255)
    x0, y0 = x + left, y + top
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + mask.width, img.shape[1]), min(y0 + mask.height, img.shape[0])
    if cx1 <= cx0 or cy1 <= cy0:
        return
    alpha = np.asarray(mask, np.float32)[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0, None] / 255.0
    region = img[cy0:cy1, cx0:cx1]
    region[:] = np.rint(region * (1.0 - alpha) + np.float32(colour) * alpha).astype(np.uint8)


def _text_width(text: str, scale: float) -> int:
    left, _, right, _ = _font(scale).getbbox(text)
    return right - left


def _save(img: np.ndarray, path: str | Path) -> Path:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise ValueError("PNG encoding failed")
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(buf.tobytes()))


def confusion_png(cm: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path,
                  title: str = "Confusion matrix (test set)", subtitle: str = "") -> Path:
    """Draw a confusion matrix (rows true, columns predicted)."""
    cm = np.asarray(cm, dtype=np.int64)
    k = len(classes)
    cell = max(60, min(120, 480 // max(k, 1)))
    left, top = 150, 90
    w, h = left + k * cell + 30, top + k * cell + 70
    img = np.full((h, w, 3), 255, np.uint8)
    _text(img, title, (w // 2, 22), 0.6, anchor="center", thickness=1)
    if subtitle:
        _text(img, subtitle, (w // 2, 46), 0.42, GREY, anchor="center")
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    for i in range(k):
        for j in range(k):
            x0, y0 = left + j * cell, top + i * cell
            shade = frac[i, j]
            colour = tuple(int(255 - shade * (255 - c)) for c in (BLUE if i == j else ORANGE))
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), colour, -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), GREY, 1)
            ink = WHITE if shade > 0.6 else BLACK
            _text(img, str(int(cm[i, j])), (x0 + cell // 2, y0 + cell // 2 - 9), 0.7, ink, 2, "center")
            _text(img, f"{100 * shade:.0f}%", (x0 + cell // 2, y0 + cell // 2 + 16), 0.42, ink, 1, "center")
    for i, name in enumerate(classes):
        _text(img, _clip(name, 16), (left - 8, top + i * cell + cell // 2), 0.45, anchor="right")
        _text(img, _clip(name, 12), (left + i * cell + cell // 2, top + k * cell + 16), 0.45, anchor="center")
    _text(img, "true", (18, top - 18), 0.45, GREY)
    _text(img, "predicted", (left + k * cell // 2, top + k * cell + 44), 0.45, GREY, anchor="center")
    return _save(img, path)


class _Axes:
    """A plot area mapping data to pixels."""

    def __init__(self, img, rect, xlim, ylim, title="", xlabel="", ylabel="") -> None:
        self.img, (self.x0, self.y0, self.x1, self.y1) = img, rect
        self.xlim, self.ylim = xlim, ylim
        cv2.rectangle(img, (self.x0, self.y0), (self.x1, self.y1), GREY, 1)
        for t in _ticks(*xlim):
            x = self.px(t, ylim[0])[0]
            cv2.line(img, (x, self.y0), (x, self.y1), LIGHT, 1)
            _text(img, _fmt(t), (x, self.y1 + 14), 0.38, GREY, anchor="center")
        for t in _ticks(*ylim):
            y = self.px(xlim[0], t)[1]
            cv2.line(img, (self.x0, y), (self.x1, y), LIGHT, 1)
            _text(img, _fmt(t), (self.x0 - 6, y), 0.38, GREY, anchor="right")
        cv2.rectangle(img, (self.x0, self.y0), (self.x1, self.y1), GREY, 1)
        if title:
            _text(img, title, ((self.x0 + self.x1) // 2, self.y0 - 16), 0.5, anchor="center")
        if xlabel:
            _text(img, xlabel, ((self.x0 + self.x1) // 2, self.y1 + 34), 0.42, GREY, anchor="center")
        if ylabel:
            _text(img, ylabel, (self.x0 - 8, self.y0 - 16), 0.42, GREY, anchor="right" if False else "left")

    def px(self, x: float, y: float) -> tuple[int, int]:
        (a, b), (c, d) = self.xlim, self.ylim
        fx = (x - a) / (b - a) if b > a else 0.5
        fy = (y - c) / (d - c) if d > c else 0.5
        return (int(round(self.x0 + fx * (self.x1 - self.x0))), int(round(self.y1 - fy * (self.y1 - self.y0))))

    def line(self, xs, ys, colour, thickness: int = 2, dashed: bool = False, marker: bool = False) -> None:
        pts = [self.px(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
        if dashed:
            for (p, q) in zip(pts[:-1], pts[1:]):
                _dashed(self.img, p, q, colour)
        elif len(pts) > 1:
            cv2.polylines(self.img, [np.array(pts, np.int32)], False, colour, thickness, cv2.LINE_AA)
        if marker or len(pts) == 1:
            for p in pts:
                cv2.circle(self.img, p, 3, colour, -1, cv2.LINE_AA)

    def legend(self, items: list[tuple[str, tuple[int, int, int]]], corner: str = "br") -> None:
        w = 22 + max((_text_width(t, 0.42) for t, _ in items), default=0)
        x = self.x1 - w - 8 if corner.endswith("r") else self.x0 + 8
        y = self.y1 - 14 - 18 * (len(items) - 1) if corner.startswith("b") else self.y0 + 14
        for text, colour in items:
            cv2.line(self.img, (x, y), (x + 16, y), colour, 3)
            _text(self.img, text, (x + 22, y), 0.42)
            y += 18


def roc_png(curves: list[tuple[str, Sequence[float], Sequence[float], float | None]], path: str | Path,
            point: tuple[float, float] | None = None, point_label: str = "",
            title: str = "ROC curve (test set)") -> Path:
    """Draw ROC curves (false positive rate vs true positive rate) with the chance line."""
    img = np.full((520, 560, 3), 255, np.uint8)
    ax = _Axes(img, (80, 50, 530, 450), (0.0, 1.0), (0.0, 1.0), title,
               "1 - specificity (false positive rate)", "sensitivity")
    ax.line([0, 1], [0, 1], GREY, 1, dashed=True)
    colours = [BLUE, ORANGE, GREEN, RED, (150, 60, 150), (60, 150, 150)]
    items = []
    for (name, fpr, tpr, area), colour in zip(curves, colours * 4):
        ax.line(list(fpr), list(tpr), colour, 2)
        items.append((f"{name}  AUC {area:.3f}" if area is not None else name, colour))
    if point is not None:
        p = ax.px(*point)
        cv2.circle(img, p, 6, RED, 2, cv2.LINE_AA)
        if point_label:
            _text(img, point_label, (p[0] + 10, p[1] + 12), 0.42, RED)
    ax.legend(items, "br")
    return _save(img, path)


def reliability_png(before: list[dict], after: list[dict], ece_before: float | None,
                    ece_after: float | None, temperature: float, path: str | Path) -> Path:
    """Reliability diagram: accuracy against stated confidence per bin, before and after
    temperature scaling (``bins`` as made by :func:`trainer.calibration.reliability`)."""
    img = np.full((520, 560, 3), 255, np.uint8)
    ax = _Axes(img, (80, 50, 530, 450), (0.0, 1.0), (0.0, 1.0),
               f"Reliability (test set), temperature {temperature:.3g}",
               "stated confidence (top class)", "observed accuracy")
    ax.line([0, 1], [0, 1], GREY, 1, dashed=True)
    items = []
    for bins, ece, colour, name in ((before, ece_before, ORANGE, "before"),
                                    (after, ece_after, BLUE, "calibrated")):
        if bins:
            ax.line([b["confidence"] for b in bins], [b["accuracy"] for b in bins], colour, 2,
                    marker=True)
            items.append((f"{name}  ECE {ece:.3f}" if ece is not None else name, colour))
    ax.legend(items, "br")
    return _save(img, path)


def curves_png(history: list[dict], metric_name: str | None, path: str | Path,
               title: str = "Training") -> Path:
    """Loss (train, validation) and the validation metric by epoch, side by side."""
    img = np.full((420, 980, 3), 255, np.uint8)
    _text(img, title, (490, 16), 0.55, anchor="center")
    epochs = [h["epoch"] for h in history]
    xlim = (1.0, float(max(epochs))) if epochs and max(epochs) > 1 else (0.0, 2.0)
    train = [h.get("train_loss") for h in history]
    val = [h.get("val_loss") for h in history]
    finite = [v for v in train + val if v is not None and math.isfinite(v)]
    top = max(finite) * 1.05 if finite else 1.0
    ax = _Axes(img, (70, 50, 470, 360), xlim, (0.0, top if top > 0 else 1.0), "loss", "epoch")
    ax.line(epochs, train, BLUE, marker=True)
    ax.line(epochs, val, ORANGE, marker=True)
    ax.legend([("train", BLUE), ("validation", ORANGE)], "tr")
    freeze = [h["epoch"] for h in history if h.get("frozen")]
    if freeze and len(freeze) < len(history):
        x = ax.px(max(freeze) + 0.5, 0)[0]
        _dashed(img, (x, ax.y0), (x, ax.y1), GREEN)
        _text(img, "unfrozen", (x + 4, ax.y0 + 10), 0.38, GREEN)
    if metric_name:
        vals = [(h.get("metrics") or {}).get(metric_name) for h in history]
        ax2 = _Axes(img, (560, 50, 960, 360), xlim, (0.0, 1.0), f"validation {metric_name}", "epoch")
        ax2.line(epochs, vals, GREEN, marker=True)
        best = [(e, v) for e, v in zip(epochs, vals) if v is not None]
        if best:
            e, v = max(best, key=lambda t: t[1])
            cv2.circle(img, ax2.px(e, v), 7, RED, 2, cv2.LINE_AA)
            _text(img, f"best {v:.3f} (epoch {e})", (ax2.x0 + 8, ax2.y1 - 14), 0.42, RED)
    return _save(img, path)


def examples_png(images: list[np.ndarray], truths: list[np.ndarray], preds: list[np.ndarray],
                 captions: list[str], path: str | Path, tile: int = 200) -> Path:
    """Up to 8 segmentation examples: grey image, true outline green, predicted outline red."""
    n = max(1, min(8, len(images)))
    cols = min(4, n)
    rows = math.ceil(n / cols)
    img = np.full((rows * (tile + 24) + 30, cols * tile, 3), 255, np.uint8)
    _text(img, "test examples: green = labelled, red = predicted", (cols * tile // 2, 12), 0.45,
          anchor="center")
    for k in range(min(n, len(images))):
        r, c = divmod(k, cols)
        grey = images[k]
        lo, hi = np.percentile(grey, (1, 99))
        u8 = np.clip((grey - lo) / (hi - lo if hi > lo else 1) * 255, 0, 255).astype(np.uint8)
        bgr = cv2.cvtColor(cv2.resize(u8, (tile, tile), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR)
        for mask, colour in ((truths[k], GREEN), (preds[k], RED)):
            m = cv2.resize((mask > 0).astype(np.uint8), (tile, tile), interpolation=cv2.INTER_NEAREST)
            contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(bgr, contours, -1, colour, 1, cv2.LINE_AA)
        y0 = 30 + r * (tile + 24)
        img[y0:y0 + tile, c * tile:(c + 1) * tile] = bgr
        _text(img, _clip(captions[k], 30), (c * tile + tile // 2, y0 + tile + 10), 0.38, anchor="center")
    return _save(img, path)


def _dashed(img, p, q, colour, dash: int = 6) -> None:
    p, q = np.array(p, float), np.array(q, float)
    length = float(np.hypot(*(q - p)))
    if length < 1:
        return
    steps = int(length // dash)
    for i in range(0, steps, 2):
        a = p + (q - p) * (i / steps)
        b = p + (q - p) * (min(i + 1, steps) / steps)
        cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), colour, 1, cv2.LINE_AA)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    out, t = [], start
    while t <= hi + step * 1e-6:
        out.append(round(t, 10))
        t += step
    return out


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}".rstrip("0").rstrip(".")


def _clip(text: str, n: int) -> str:
    """``text`` cut to ``n`` columns, a wide (CJK) character counting two."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > n:
            return text[: max(i - 1, 0)] + "."
    return text
