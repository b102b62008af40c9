"""The ONE preprocessing function shared by inference and the trainer.

It starts from modality values (e.g. HU, from
:meth:`medview.core.study.Frame.modality_values`), never from screen pixels, and
follows the manifest, so a model sees at inference exactly what it saw in
training. numpy + OpenCV only: the trainer's data loader workers call it too.

Steps, in order:

1. intensity to [0, 1]: grey values through the manifest's window (the
   display's own PS3.3 C.11.2 formula), inverted for MONOCHROME1; colour
   divided by its full-scale value;
2. crop (centre fraction, or the bounding box of the foreground);
3. colour to grey when the model takes one channel;
4. resize to fit the input (letterbox keeps the aspect ratio; stretch does not);
5. CLAHE, then Perona-Malik anisotropic diffusion, at model resolution so the
   filters behave the same whatever the source resolution, and before padding
   so the letterbox bars do not take part;
6. pad to the input size, grey to three channels when the model takes RGB;
7. per-channel ``(x - mean) / std``.

:class:`Transform` records the geometry: a mask computed on the network input
maps back onto the original frame (inference), and a target mask maps onto the
network input (training).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import cv2
import numpy as np

from medview.core.colour import apply_palette, rgb_to_8bit
from medview.core.errors import MedviewError
from medview.core.pixels import Window, apply_window
from medview.core.presets import modality_presets
from medview.inference.manifest import (ClaheSpec, CropSpec, DiffusionSpec, Manifest,
                                        WindowSpec)

# Auto window: ignore the darkest and brightest 0.5 % (as the viewer's auto window).
AUTO_PERCENTILES = (0.5, 99.5)


class PreprocessError(MedviewError, ValueError):
    """The image cannot be prepared for the model (the message says why, in one line)."""


@dataclass(frozen=True)
class ImageContext:
    """What preprocessing needs to know about an image besides its values.

    Attributes
    ----------
    units : str
        Units of the modality values (``"HU"`` enables the CT presets).
    modality : str
        DICOM Modality, e.g. ``"CT"``.
    windows : tuple of Window
        Windows stored in the file (``window: "stored"`` or a preset by name).
    invert : bool
        Minimum displays white (MONOCHROME1): inverted after windowing so that
        dense tissue is bright in every image the model sees.
    max_value : float or None
        Full-scale value of colour images (255 for 8-bit); None: 255, or 65535
        when the values exceed 255.
    """

    units: str = ""
    modality: str = ""
    windows: tuple[Window, ...] = ()
    invert: bool = False
    max_value: float | None = None


@dataclass(frozen=True)
class Transform:
    """Geometry from an original image to the network input, and back.

    Attributes
    ----------
    original_shape : tuple of int
        (rows, cols) of the image given to :func:`preprocess`.
    crop : tuple of int
        (top, left, height, width) of the crop, in original pixels.
    resized : tuple of int
        (height, width) of the crop after resizing.
    pad : tuple of int
        (top, left) offset of the resized crop inside the input.
    input_size : tuple of int
        (height, width) of the network input.
    """

    original_shape: tuple[int, int]
    crop: tuple[int, int, int, int]
    resized: tuple[int, int]
    pad: tuple[int, int]
    input_size: tuple[int, int]

    def to_input(self, labels: np.ndarray, fill: int = 0) -> np.ndarray:
        """Map a label mask of the original image onto the network input.

        The same crop, resize and padding :func:`preprocess` applied to the
        image, with nearest-neighbour resampling so class numbers stay exact:
        what the trainer needs to pair each input with its target mask.

        Parameters
        ----------
        labels : numpy.ndarray
            (rows, cols) class numbers 0..255 (or bool) at the original size.
        fill : int
            Class of the letterbox padding (0, background).

        Returns
        -------
        numpy.ndarray
            uint8 (height, width) at the input size.
        """
        arr = np.asarray(labels)
        if arr.shape != self.original_shape:
            raise ValueError(f"labels are {arr.shape}, expected the image's {self.original_shape}")
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError("class numbers must lie in 0..255")
        top, left, ch, cw = self.crop
        (pt, pl), (rh, rw) = self.pad, self.resized
        inner = np.ascontiguousarray(arr[top:top + ch, left:left + cw], dtype=np.uint8)
        out = np.full(self.input_size, fill, dtype=np.uint8)
        out[pt:pt + rh, pl:pl + rw] = cv2.resize(inner, (rw, rh),
                                                 interpolation=cv2.INTER_NEAREST)
        return out

    def to_original(self, maps: np.ndarray, fill: float | Sequence[float] = 0.0,
                    interpolation: str = "linear") -> np.ndarray:
        """Map arrays on the network input back onto the original image.

        Parameters
        ----------
        maps : numpy.ndarray
            (H, W) or (K, H, W) at the input size, e.g. class probabilities.
        fill : float or sequence of float
            Value outside the crop, per channel (e.g. 1 for a softmax background).
        interpolation : {"linear", "nearest"}
            Linear for probabilities; nearest for label maps.

        Returns
        -------
        numpy.ndarray
            (rows, cols) or (K, rows, cols) float32 at the original size.
        """
        arr = np.asarray(maps, dtype=np.float32)
        squeeze = arr.ndim == 2
        arr = arr[None] if squeeze else arr
        if arr.shape[1:] != self.input_size:
            raise ValueError(f"maps are {arr.shape[1:]}, expected the input size {self.input_size}")
        (pt, pl), (rh, rw) = self.pad, self.resized
        top, left, ch, cw = self.crop
        flag = cv2.INTER_NEAREST if interpolation == "nearest" else cv2.INTER_LINEAR
        inner = [cv2.resize(np.ascontiguousarray(m[pt:pt + rh, pl:pl + rw]), (cw, ch),
                            interpolation=flag) for m in arr]
        fills = np.broadcast_to(np.asarray(fill, dtype=np.float32), (len(arr),))
        out = np.empty((len(arr), *self.original_shape), dtype=np.float32)
        out[:] = fills[:, None, None]
        out[:, top:top + ch, left:left + cw] = np.stack(inner)
        return out[0] if squeeze else out


@dataclass(frozen=True)
class Preprocessed:
    """A network input and how it was made.

    Attributes
    ----------
    image : numpy.ndarray
        float32 (channels, height, width), C-contiguous.
    transform : Transform
    """

    image: np.ndarray
    transform: Transform


def preprocess(values: np.ndarray, manifest: Manifest,
               context: ImageContext | None = None) -> Preprocessed:
    """Turn modality values into the network input the manifest describes.

    Parameters
    ----------
    values : numpy.ndarray
        (rows, cols) grey modality values (e.g. HU), or (rows, cols, 3|4) colour
        (alpha is dropped). Any size and dtype.
    manifest : Manifest
        Input size and channels, preprocessing steps and normalisation.
    context : ImageContext, optional
        Units, stored windows and polarity of the image; see :func:`frame_input`.

    Returns
    -------
    Preprocessed
        The same output for the same input, always (no randomness).

    Raises
    ------
    PreprocessError
        For an unusable array or a window preset the image does not offer.
    """
    context = context or ImageContext()
    img = _as_image(values)
    unit = _colour_to_unit(img, context) if img.ndim == 3 else _grey_to_unit(
        img, manifest.preprocessing.window, context)
    top, left, ch, cw = _crop_box(unit, manifest.preprocessing.crop)
    work = unit[top:top + ch, left:left + cw]
    if manifest.input.channels == 1 and work.ndim == 3:
        work = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)  # ITU-R BT.601 luma, as PIL's "L"
    size = manifest.input.size
    resized = _fit(work.shape[:2], size, manifest.preprocessing.resize)
    work = _resize(work, resized)
    work = _filters(work, manifest.preprocessing.clahe, manifest.preprocessing.diffusion)
    pad = ((size[0] - resized[0]) // 2, (size[1] - resized[1]) // 2)
    chw = _pad_channels_first(work, size, pad, manifest.input.channels)
    norm = manifest.normalisation
    chw = (chw - np.asarray(norm.mean, np.float32)[:, None, None]) / np.asarray(
        norm.std, np.float32)[:, None, None]
    transform = Transform(img.shape[:2], (top, left, ch, cw), resized, pad, size)
    return Preprocessed(np.ascontiguousarray(chw, dtype=np.float32), transform)


def frame_input(frame) -> tuple[np.ndarray, ImageContext]:
    """The values and context :func:`preprocess` takes, for a core frame.

    Parameters
    ----------
    frame : medview.core.study.Frame

    Returns
    -------
    values : numpy.ndarray
        Modality values for grey frames; 8-bit RGB for colour ones (palette
        colour mapped through its palette, as the viewer shows it).
    context : ImageContext

    Raises
    ------
    medview.core.errors.ReadError
        If the pixels cannot be decoded.
    """
    params = frame.params
    if params.palette is not None:
        return apply_palette(frame.stored(), params.palette), ImageContext(max_value=255.0)
    if params.is_colour:
        return rgb_to_8bit(frame.stored(), params.bits_stored), ImageContext(max_value=255.0)
    context = ImageContext(units=params.units, modality=str(frame.get("Modality", "") or ""),
                           windows=tuple(params.windows), invert=params.invert)
    return frame.modality_values(), context


# ----------------------------------------------------------------------- filters

def apply_clahe(img: np.ndarray, spec: ClaheSpec) -> np.ndarray:
    """CLAHE on a [0, 1] float image (each channel), via OpenCV at 8 bits.

    8 bits because CLAHE's clip limit is defined on a 256-bin histogram: that
    is what published pipelines (and OpenCV's own tuning) assume.

    Parameters
    ----------
    img : numpy.ndarray
        (H, W) or (H, W, C) float in [0, 1].
    spec : ClaheSpec
        Clip limit and tile grid (rows, cols).

    Returns
    -------
    numpy.ndarray
        float32, same shape, in [0, 1].
    """
    clahe = cv2.createCLAHE(clipLimit=spec.clip_limit,
                            tileGridSize=(spec.tile_grid[1], spec.tile_grid[0]))

    def one(channel: np.ndarray) -> np.ndarray:
        u8 = np.clip(np.rint(channel * 255.0), 0, 255).astype(np.uint8)
        return clahe.apply(u8).astype(np.float32) / 255.0

    return _per_channel(img, one)


def anisotropic_diffusion(img: np.ndarray, spec: DiffusionSpec) -> np.ndarray:
    """Perona-Malik anisotropic diffusion (edge-preserving smoothing).

    Explicit 4-neighbour scheme of Perona & Malik (IEEE PAMI 12(7), 1990):
    ``u += gamma * sum_d g(grad_d u) * grad_d u`` with
    ``g(x) = exp(-(x/kappa)^2)`` ("exponential", favours high-contrast edges) or
    ``1 / (1 + (x/kappa)^2)`` ("quadratic", favours wide regions). Zero flux
    across the image border. Widely used to suppress speckle in ultrasound
    (e.g. prostate TRUS segmentation) while keeping organ boundaries.

    Parameters
    ----------
    img : numpy.ndarray
        (H, W) or (H, W, C) float in [0, 1].
    spec : DiffusionSpec
        Iterations, kappa (in [0, 1] intensity units), gamma (<= 0.25) and
        conduction function.

    Returns
    -------
    numpy.ndarray
        float32, same shape.
    """
    def one(channel: np.ndarray) -> np.ndarray:
        u = channel.astype(np.float32, copy=True)
        step = _DiffusionStep(u.shape, spec)
        for _ in range(spec.iterations):
            step(u)
        return u

    return _per_channel(img, one)


class _DiffusionStep:
    """One explicit step of the scheme, applied to ``u`` in place.

    Each pair of neighbours shares one flux, g(d) * d with d the difference between
    them: it leaves one pixel and enters the other (g is even), so it is computed once
    per pair, not once from each side. No pair spans the border: no flux leaves the
    image. The buffers are reused across steps: fresh image-sized temporaries at every
    step cost more (page faults) than the arithmetic.
    """

    def __init__(self, shape: tuple[int, int], spec: DiffusionSpec) -> None:
        h, w = shape
        self.kappa, self.gamma, self.conduction = spec.kappa, spec.gamma, spec.conduction
        self.total = np.empty(shape, np.float32)
        # (later pixel of each pair, earlier pixel, difference, flux): vertical pairs,
        # then horizontal, so the sums round as the textbook order (N, S, W, E) does
        self.pairs = [((slice(1, None),), (slice(None, -1),), np.empty((h - 1, w), np.float32),
                       np.empty((h - 1, w), np.float32)),
                      ((slice(None), slice(1, None)), (slice(None), slice(None, -1)),
                       np.empty((h, w - 1), np.float32), np.empty((h, w - 1), np.float32))]

    def __call__(self, u: np.ndarray) -> None:
        total = self.total
        total.fill(0.0)
        for later, earlier, d, flux in self.pairs:
            np.subtract(u[later], u[earlier], out=d)
            np.divide(d, self.kappa, out=flux)
            flux *= flux  # (d / kappa)^2
            if self.conduction == "exponential":
                np.negative(flux, out=flux)
                np.exp(flux, out=flux)
            else:
                flux += 1.0
                np.reciprocal(flux, out=flux)
            flux *= d  # g(d) * d
            total[later] -= flux  # from the neighbour above (left) of each pixel,
            total[earlier] += flux  # then from the one below (right)
        total *= self.gamma
        u += total


# ----------------------------------------------------------------------- steps

def _as_image(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]  # alpha carries no image content
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise PreprocessError(f"expected a grey (rows, cols) or colour (rows, cols, 3) image, "
                              f"got shape {arr.shape}")
    if min(arr.shape[:2]) < 2:
        raise PreprocessError(f"image of {arr.shape[0]}x{arr.shape[1]} pixels is too small")
    if arr.dtype.kind not in "uifb":
        raise PreprocessError(f"pixel values of type {arr.dtype} are not numbers")
    return np.nan_to_num(arr.astype(np.float64, copy=False))


def _grey_to_unit(values: np.ndarray, spec: WindowSpec, context: ImageContext) -> np.ndarray:
    window = _resolve_window(values, spec, context)
    if window is None:
        unit = np.zeros(values.shape, np.float32)  # flat image: no contrast to show
    elif isinstance(window, Window):
        unit = apply_window(values, window, 0.0, 1.0).astype(np.float32)
    else:
        lo, hi = window
        unit = np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    return 1.0 - unit if context.invert else unit


def _resolve_window(values: np.ndarray, spec: WindowSpec, context: ImageContext):
    """A core Window, a (low, high) span, or None for a flat image."""
    if spec.mode == "fixed":
        return Window(spec.center, spec.width, "LINEAR", "manifest")
    if spec.mode == "stored" and context.windows:
        return context.windows[0]
    if spec.mode == "preset":
        return _preset(spec.preset, context)
    lo, hi = float(values.min()), float(values.max())
    if spec.mode in ("auto", "stored"):
        p_lo, p_hi = np.percentile(values, AUTO_PERCENTILES)
        if p_hi > p_lo:
            lo, hi = float(p_lo), float(p_hi)
    return (lo, hi) if hi > lo else None


def _preset(name: str, context: ImageContext) -> Window:
    stored = list(context.windows)
    presets = [Window(c, w, "LINEAR", n) for n, c, w in
               modality_presets(context.modality, context.units)]
    for window in stored + presets:
        if window.name.lower() == name.lower():
            return window
    offered = ", ".join(w.name for w in stored + presets if w.name) or "none"
    raise PreprocessError(f"window preset '{name}' is not available for this image "
                          f"(modality '{context.modality or '?'}', units "
                          f"'{context.units or '?'}'; offers: {offered})")


def _colour_to_unit(img: np.ndarray, context: ImageContext) -> np.ndarray:
    top = context.max_value or (255.0 if img.max() <= 255 else 65535.0)
    return np.clip(img / top, 0.0, 1.0).astype(np.float32)


def _crop_box(unit: np.ndarray, spec: CropSpec | None) -> tuple[int, int, int, int]:
    rows, cols = unit.shape[:2]
    if spec is None:
        return 0, 0, rows, cols
    if spec.kind == "center":
        ch, cw = max(1, round(rows * spec.fraction)), max(1, round(cols * spec.fraction))
        return (rows - ch) // 2, (cols - cw) // 2, ch, cw
    grey = unit.max(axis=2) if unit.ndim == 3 else unit
    mask = grey > spec.threshold
    if not mask.any():
        return 0, 0, rows, cols  # nothing stands out: keep everything rather than guess
    r = np.flatnonzero(mask.any(axis=1))
    c = np.flatnonzero(mask.any(axis=0))
    grow_r = round((r[-1] - r[0] + 1) * spec.margin)
    grow_c = round((c[-1] - c[0] + 1) * spec.margin)
    top, bottom = max(0, r[0] - grow_r), min(rows, r[-1] + 1 + grow_r)
    left, right = max(0, c[0] - grow_c), min(cols, c[-1] + 1 + grow_c)
    return int(top), int(left), int(bottom - top), int(right - left)


def _fit(shape: tuple[int, int], size: tuple[int, int], mode: str) -> tuple[int, int]:
    if mode == "stretch":
        return size
    scale = min(size[0] / shape[0], size[1] / shape[1])
    return (min(size[0], max(1, round(shape[0] * scale))),
            min(size[1], max(1, round(shape[1] * scale))))


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if img.shape[:2] == size:
        return np.ascontiguousarray(img, dtype=np.float32)
    shrinking = size[0] < img.shape[0] or size[1] < img.shape[1]
    # INTER_AREA averages when shrinking (no aliasing of fine detail or speckle).
    flag = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(img, dtype=np.float32), (size[1], size[0]),
                      interpolation=flag)


def _filters(img: np.ndarray, clahe: ClaheSpec | None,
             diffusion: DiffusionSpec | None) -> np.ndarray:
    if clahe is not None:
        img = apply_clahe(img, clahe)
    if diffusion is not None:
        img = anisotropic_diffusion(img, diffusion)
    return img


def _pad_channels_first(img: np.ndarray, size: tuple[int, int], pad: tuple[int, int],
                        channels: int) -> np.ndarray:
    chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
    out = np.zeros((chw.shape[0], *size), np.float32)
    out[:, pad[0]:pad[0] + chw.shape[1], pad[1]:pad[1] + chw.shape[2]] = chw
    if channels == 3 and out.shape[0] == 1:
        out = np.repeat(out, 3, axis=0)
    return out


def _per_channel(img: np.ndarray, fn) -> np.ndarray:
    if img.ndim == 2:
        return fn(img)
    return np.stack([fn(np.ascontiguousarray(img[..., c])) for c in range(img.shape[2])],
                    axis=2)
