"""The DICOM grey-scale display pipeline, exact to PS3.3 C.11, and fast enough to drag.

stored value -> Modality LUT (rescale or Modality LUT Sequence, C.11.1)
-> VOI (window LINEAR / LINEAR_EXACT / SIGMOID, or VOI LUT Sequence, C.11.2)
-> presentation (MONOCHROME1 / Presentation LUT Shape, C.11.6) -> 8-bit display value.

Integer frames (the usual case) are rendered through one 8-bit table that folds
all three stages over the frame's stored range; a new window rebuilds that table
(at most 65536 entries) and maps the frame with a single ``np.take``, so
re-windowing costs about one memory pass. Float frames are computed per pixel.

Colour (RGB, YBR already converted by the decoder, PALETTE COLOR) is scaled to
8 bits once; VOI does not apply to colour (PS3.3 C.11.2), but an explicit window
or the viewer's inversion can still be laid over the 8-bit channels.

Pure numpy + pydicom Dataset reading: no Qt, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from medview.core.colour import Palette, apply_palette, dataset_is_little_endian, read_palette
from medview.core.colour import rgb_to_8bit
from medview.core.presets import modality_presets

__all__ = [
    "LUT", "DisplayParams", "FrameRenderer", "Palette", "Window", "apply_lut",
    "apply_window", "auto_window", "default_window", "display_params", "image_params",
    "modality_values", "presets_for", "render",
]

VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
# Robust auto window: ignore the darkest and brightest 0.5 % of (non-padding) pixels.
_AUTO_PERCENTILES = (0.5, 99.5)
_TABLE_LIMIT = 1 << 16  # largest stored range rendered through a lookup table


# --------------------------------------------------------------------------- types

@dataclass(frozen=True)
class Window:
    """A VOI window (PS3.3 C.11.2.1.2 Window Center and Window Width).

    Attributes
    ----------
    center, width : float
        Window Center (0028,1050) and Window Width (0028,1051), in modality units.
    function : str
        VOI LUT Function (0028,1056): ``"LINEAR"`` (C.11.2.1.2.1, width >= 1),
        ``"LINEAR_EXACT"`` (C.11.2.1.3.2) or ``"SIGMOID"`` (C.11.2.1.3.1), width > 0.
    name : str
        Window Center & Width Explanation (0028,1055) or a preset name.

    Raises
    ------
    ValueError
        For an unknown function, a non-finite value or a width out of range.
    """

    center: float
    width: float
    function: str = "LINEAR"
    name: str = ""

    def __post_init__(self) -> None:
        function = str(self.function).strip().upper() or "LINEAR"
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "center", float(self.center))
        object.__setattr__(self, "width", float(self.width))
        if function not in VOI_FUNCTIONS:
            raise ValueError(f"unknown VOI LUT function {self.function!r}")
        if not (math.isfinite(self.center) and math.isfinite(self.width)):
            raise ValueError("window center and width must be finite")
        if function == "LINEAR" and self.width < 1:
            raise ValueError(f"LINEAR window width must be >= 1, got {self.width:g}")
        if self.width <= 0:
            raise ValueError(f"window width must be > 0, got {self.width:g}")


@dataclass(frozen=True, eq=False)
class LUT:
    """One item of a Modality LUT Sequence or VOI LUT Sequence (PS3.3 C.11.1, C.11.2).

    Attributes
    ----------
    first_mapped : int
        Input value mapped to the first entry (LUT Descriptor value 2).
    bits : int
        Bits per entry (LUT Descriptor value 3); outputs span 0 .. 2**bits - 1.
    table : numpy.ndarray
        Read-only 1-D uint16 LUT Data.
    explanation : str
        LUT Explanation (0028,3003).
    """

    first_mapped: int
    bits: int
    table: np.ndarray
    explanation: str = ""

    @property
    def max_output(self) -> int:
        """Largest output value the table can hold, 2**bits - 1."""
        return (1 << self.bits) - 1

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Map input values; inputs before the first entry take it, past the end the last.

        Non-integer inputs (e.g. rescaled values) take the nearest entry.
        """
        values = np.asarray(values)
        if values.dtype.kind == "f":
            values = np.rint(values)
        idx = np.clip(values.astype(np.int64) - self.first_mapped, 0, len(self.table) - 1)
        return self.table[idx]


@dataclass(frozen=True)
class DisplayParams:
    """Everything needed to turn one frame's stored values into display pixels.

    Attributes
    ----------
    photometric : str
        Photometric Interpretation (0028,0004).
    samples_per_pixel : int
        Samples per Pixel (0028,0002).
    bits_stored : int
        Bits Stored (0028,0101).
    signed : bool
        Pixel Representation (0028,0103) is 1.
    slope, intercept : float
        Rescale Slope/Intercept (PS3.3 C.11.1.1.2), 1 and 0 when absent.
    modality_lut : LUT or None
        Modality LUT Sequence item; when present it replaces the rescale.
    units : str
        Units of the modality values (``"HU"``, Rescale Type, ``""`` when unknown).
    windows : tuple of Window
        Stored windows, in file order (several are presets).
    voi_luts : tuple of LUT
        VOI LUT Sequence items, in file order.
    invert : bool
        Minimum displays white: Presentation LUT Shape INVERSE, or MONOCHROME1
        when the file has no Presentation LUT Shape (PS3.3 C.11.6.1.2; as dcmtk).
    palette : Palette or None
        PALETTE COLOR lookup tables.
    padding : tuple of (int, int) or None
        Stored-value range of Pixel Padding Value/Range Limit (PS3.3 C.7.5.1.1.2),
        excluded from the auto window.
    """

    photometric: str
    samples_per_pixel: int
    bits_stored: int
    signed: bool
    slope: float = 1.0
    intercept: float = 0.0
    modality_lut: LUT | None = None
    units: str = ""
    windows: tuple[Window, ...] = ()
    voi_luts: tuple[LUT, ...] = ()
    invert: bool = False
    palette: Palette | None = None
    padding: tuple[int, int] | None = None

    @property
    def is_colour(self) -> bool:
        """True for RGB/YBR and palette colour, where VOI does not apply."""
        return self.samples_per_pixel > 1 or self.photometric == "PALETTE COLOR"


# ------------------------------------------------------------------ header reading

def display_params(ds: Dataset, frame: int = 0) -> DisplayParams:
    """Collect the display attributes of one frame of a DICOM image.

    Enhanced multi-frame objects are honoured: each attribute is taken from
    PerFrameFunctionalGroupsSequence[frame], else SharedFunctionalGroupsSequence
    (Pixel Value Transformation Sequence for rescale/Modality LUT, PS3.3
    C.7.6.16.2.9; Frame VOI LUT Sequence for windows/VOI LUT, C.7.6.16.2.10), else
    the top level.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The header (pixel data not needed).
    frame : int
        0-based frame index.

    Returns
    -------
    DisplayParams
        Stored windows with an invalid width (e.g. 0) are dropped, as dcmtk does.
    """
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2")
    photometric = photometric.strip().upper()
    signed = _int(ds, "PixelRepresentation", 0) == 1
    bits_stored = _int(ds, "BitsStored", 0) or _int(ds, "BitsAllocated", 8)
    rescale_src = _source(ds, frame, "PixelValueTransformationSequence", "RescaleSlope",
                          "RescaleIntercept")
    mlut_src = _source(ds, frame, "PixelValueTransformationSequence", "ModalityLUTSequence")
    voi_src = _source(ds, frame, "FrameVOILUTSequence", "WindowCenter")
    vlut_src = _source(ds, frame, "FrameVOILUTSequence", "VOILUTSequence")
    little = dataset_is_little_endian(ds)
    mlut = _first_lut(mlut_src, "ModalityLUTSequence", little, signed)
    intercept = _float(rescale_src, "RescaleIntercept", 0.0)
    vlut_signed = signed or intercept < 0 or (mlut is not None and mlut.first_mapped < 0)
    return DisplayParams(
        photometric=photometric,
        samples_per_pixel=_int(ds, "SamplesPerPixel", 1) or 1,
        bits_stored=bits_stored,
        signed=signed,
        slope=_float(rescale_src, "RescaleSlope", 1.0) or 1.0,
        intercept=intercept,
        modality_lut=mlut,
        units=_units(ds, rescale_src, mlut_src, mlut),
        windows=_windows(voi_src),
        voi_luts=_luts(vlut_src, "VOILUTSequence", little, vlut_signed),
        invert=_inverted(ds, photometric),
        palette=read_palette(ds) if photometric == "PALETTE COLOR" else None,
        padding=_padding(ds, signed),
    )


def image_params(mode: str, bits: int) -> DisplayParams:
    """Display parameters for a plain PNG/JPEG/TIFF image.

    Parameters
    ----------
    mode : {"L", "RGB"}
        Grey or colour.
    bits : {8, 16}
        Bits per sample.

    Returns
    -------
    DisplayParams
        8-bit grey carries a "Full range" window that shows the values unchanged;
        16-bit grey has none, so the default is the auto window (such files are
        often 10-12-bit data in a 16-bit container).
    """
    mode = mode.upper()
    if mode not in ("L", "RGB") or bits not in (8, 16):
        raise ValueError(f"unsupported image mode {mode!r} with {bits} bits")
    if mode == "RGB":
        return DisplayParams("RGB", 3, bits, False)
    # LINEAR with c = 2**(b-1), w = 2**b maps 0 -> 0 and 2**b - 1 -> 255 (identity at 8 bits)
    windows = (Window(1 << (bits - 1), 1 << bits, "LINEAR", "Full range"),) if bits == 8 else ()
    return DisplayParams("MONOCHROME2", 1, bits, False, windows=windows)


def _functional_items(ds: Dataset, frame: int, group: str) -> list[Dataset]:
    items = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and 0 <= frame < len(per_frame):
        seq = per_frame[frame].get(group)
        if seq:
            items.append(seq[0])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        seq = shared[0].get(group)
        if seq:
            items.append(seq[0])
    return items


def _source(ds: Dataset, frame: int, group: str, *keywords: str) -> Dataset:
    """The first of per-frame item, shared item, top level that has any of keywords."""
    for item in _functional_items(ds, frame, group):
        if any(k in item for k in keywords):
            return item
    return ds


def _int(ds: Dataset, keyword: str, default: int) -> int:
    try:
        value = ds.get(keyword, default)
        return default if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return default


def _float(ds: Dataset, keyword: str, default: float) -> float:
    try:
        value = ds.get(keyword)
        value = default if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _floats(value) -> list[float]:
    if value is None or value == "":
        return []
    scalar = isinstance(value, (str, bytes)) or not isinstance(value, Iterable)
    items = [value] if scalar else value
    out = []
    for v in items:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, Iterable) else [str(value)]


def _windows(src: Dataset) -> tuple[Window, ...]:
    centers = _floats(src.get("WindowCenter"))
    widths = _floats(src.get("WindowWidth"))
    names = _strings(src.get("WindowCenterWidthExplanation"))
    function = str(src.get("VOILUTFunction", "LINEAR") or "LINEAR")
    windows = []
    for i, (c, w) in enumerate(zip(centers, widths)):
        name = names[i].strip() if i < len(names) and names[i].strip() else f"Window {i + 1}"
        try:
            windows.append(Window(c, w, function, name))
        except ValueError:
            try:  # unknown function: the standard's default is LINEAR (C.11.2.1.3)
                windows.append(Window(c, w, "LINEAR", name))
            except ValueError:
                continue  # width < 1 or NaN: no valid window (dcmtk ignores it too)
    return tuple(windows)


def _first_lut(src: Dataset, keyword: str, little: bool, signed: bool) -> LUT | None:
    luts = _luts(src, keyword, little, signed)
    return luts[0] if luts else None


def _luts(src: Dataset, keyword: str, little: bool, signed: bool) -> tuple[LUT, ...]:
    out = []
    for item in src.get(keyword) or ():
        lut = _read_lut(item, little, signed)
        if lut is not None:
            out.append(lut)
    return tuple(out)


def _read_lut(item: Dataset, little: bool, signed: bool) -> LUT | None:
    """Decode a LUT Descriptor + LUT Data pair (PS3.3 C.11.1.1.1, C.11.2.1.1)."""
    desc = item.get("LUTDescriptor")
    data = item.get("LUTData")
    if desc is None or data is None or len(desc) < 3:
        return None
    entries = int(desc[0]) or 65536  # 0 means 2**16 entries
    first = int(desc[1])
    if signed and first >= 32768:
        first -= 65536  # the US/SS descriptor was read as US but inputs are signed
    bits = int(desc[2])
    if isinstance(data, (bytes, bytearray)):
        words = np.frombuffer(bytes(data)[: len(data) // 2 * 2], "<u2" if little else ">u2")
    else:
        words = np.asarray(_floats(data) if not isinstance(data, int) else [data])
        words = words.astype(np.int64)
    if bits == 8 and len(words) < entries <= 2 * len(words):
        # 8-bit entries packed two per 16-bit word, low byte first
        words = np.stack([words & 0xFF, words >> 8], axis=1).ravel()
    if len(words) < entries:
        return None
    table = np.asarray(words[:entries], dtype=np.int64)
    if not 1 <= bits <= 16:
        bits = max(8, int(table.max()).bit_length())
    table = (table & ((1 << 16) - 1)).astype(np.uint16)
    table.setflags(write=False)
    return LUT(first, bits, table, str(item.get("LUTExplanation", "") or ""))


def _units(ds: Dataset, rescale_src: Dataset, mlut_src: Dataset, mlut: LUT | None) -> str:
    if mlut is not None:
        kind = str(mlut_src.ModalityLUTSequence[0].get("ModalityLUTType", "") or "")
    else:
        kind = str(rescale_src.get("RescaleType", "") or "")
    kind = kind.strip()
    if kind and kind.upper() != "US":  # US = unspecified (PS3.3 C.11.1.1.2)
        return kind
    if not kind and mlut is None and str(ds.get("Modality", "")).upper() == "CT":
        return "HU"  # CT Image module: rescaled values are Hounsfield units (C.8.2.1.1.2)
    return ""


def _inverted(ds: Dataset, photometric: str) -> bool:
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    if shape in ("INVERSE", "IDENTITY"):
        # An explicit shape decides (IDENTITY: VOI output is already P-values), as in dcmtk
        return shape == "INVERSE"
    return photometric == "MONOCHROME1"


def _padding(ds: Dataset, signed: bool) -> tuple[int, int] | None:
    def stored(keyword: str) -> int | None:
        value = ds.get(keyword)
        if value is None or value == "" or isinstance(value, (bytes, bytearray)):
            return None
        value = int(value)
        return value - 65536 if signed and value >= 32768 else value

    pad = stored("PixelPaddingValue")
    if pad is None:
        return None
    limit = stored("PixelPaddingRangeLimit")
    limit = pad if limit is None else limit
    return (min(pad, limit), max(pad, limit))


# ------------------------------------------------------------- pipeline functions

def modality_values(stored: np.ndarray, params: DisplayParams) -> np.ndarray:
    """Apply the Modality LUT stage (PS3.3 C.11.1).

    Parameters
    ----------
    stored : numpy.ndarray
        Stored values (masked and sign-extended).
    params : DisplayParams
        The frame's parameters.

    Returns
    -------
    numpy.ndarray
        float64 modality values: Modality LUT Sequence output when present,
        else ``stored * slope + intercept``.
    """
    if params.modality_lut is not None:
        return params.modality_lut.lookup(stored).astype(np.float64)
    values = np.asarray(stored, dtype=np.float64)
    if params.slope != 1.0:
        values = values * params.slope
    if params.intercept != 0.0:
        values = values + params.intercept
    return values


def apply_window(values: np.ndarray, window: Window, y_min: float = 0.0,
                 y_max: float = 255.0) -> np.ndarray:
    """Apply a VOI window function to modality values (PS3.3 C.11.2.1.2-3).

    Parameters
    ----------
    values : numpy.ndarray
        Modality values x.
    window : Window
        Center c, width w and function.
    y_min, y_max : float
        Output range.

    Returns
    -------
    numpy.ndarray
        float64 y, unrounded. LINEAR (C.11.2.1.2.1):
        y = ((x - (c - 0.5)) / (w - 1) + 0.5) * (y_max - y_min) + y_min, with
        y_min for x <= c - 0.5 - (w - 1) / 2 and y_max for x > c - 0.5 + (w - 1) / 2
        (w = 1 is a threshold at c - 0.5). LINEAR_EXACT (C.11.2.1.3.2):
        ((x - c) / w + 0.5) clipped to [0, 1]. SIGMOID (C.11.2.1.3.1):
        (y_max - y_min) / (1 + exp(-4 (x - c) / w)) + y_min.
    """
    x = np.asarray(values, dtype=np.float64)
    c, w = window.center, window.width
    if window.function == "SIGMOID":
        with np.errstate(over="ignore"):
            return (y_max - y_min) / (1.0 + np.exp(-4.0 * (x - c) / w)) + y_min
    if window.function == "LINEAR_EXACT":
        t = (x - c) / w + 0.5
    elif w == 1.0:
        t = (x > c - 0.5).astype(np.float64)
    else:
        t = (x - (c - 0.5)) / (w - 1.0) + 0.5
    return np.clip(t, 0.0, 1.0) * (y_max - y_min) + y_min


def apply_lut(values: np.ndarray, lut: LUT, y_min: float = 0.0,
              y_max: float = 255.0) -> np.ndarray:
    """Apply a VOI LUT Sequence item and scale its output range to [y_min, y_max].

    Parameters
    ----------
    values : numpy.ndarray
        Modality values.
    lut : LUT
        The VOI LUT (PS3.3 C.11.2.1.1); its output spans 0 .. 2**bits - 1.
    y_min, y_max : float
        Output range.

    Returns
    -------
    numpy.ndarray
        float64, unrounded.
    """
    out = lut.lookup(values).astype(np.float64)
    return out * ((y_max - y_min) / lut.max_output) + y_min


def _to_uint8(y: np.ndarray, invert: bool) -> np.ndarray:
    """Presentation stage: optional inversion, then round half up to 0..255."""
    if invert:
        y = 255.0 - y
    return np.floor(np.clip(y, 0.0, 255.0) + 0.5).astype(np.uint8)


def auto_window(stored: np.ndarray, params: DisplayParams) -> Window:
    """A sensible window for a frame with none stored.

    Spans the 0.5th to 99.5th percentile of the modality values, ignoring
    padding pixels; falls back to the full min..max when that span is empty.

    Parameters
    ----------
    stored : numpy.ndarray
        The frame's stored values.
    params : DisplayParams
        The frame's parameters.

    Returns
    -------
    Window
        Named ``"Auto"``, set so that the low percentile maps to 0 and the high
        one to 255: LINEAR for integer modality values, else LINEAR_EXACT.
    """
    return FrameRenderer(stored, params).auto_window()


def default_window(stored: np.ndarray, params: DisplayParams) -> Window | None:
    """The window a viewer opens with.

    Parameters
    ----------
    stored : numpy.ndarray
        The frame's stored values (used only for the auto window).
    params : DisplayParams
        The frame's parameters.

    Returns
    -------
    Window or None
        The first stored window; else None when the file has a VOI LUT (meaning
        "use voi_luts[0]"), or for colour images (no VOI applies); else the auto window.
    """
    if params.is_colour:
        return None
    if params.windows:
        return params.windows[0]
    if params.voi_luts:
        return None
    return auto_window(stored, params)


def presets_for(params: DisplayParams, modality: str = "") -> list[Window]:
    """Windows to offer: stored ones first, then the modality's presets.

    Parameters
    ----------
    params : DisplayParams
        The frame's parameters.
    modality : str
        Modality (0008,0060); CT (or units HU) adds the CT presets in HU.

    Returns
    -------
    list of Window
        Presets equal in center and width to a stored window are not repeated.
        Empty for colour images.
    """
    if params.is_colour:
        return []
    out = list(params.windows)
    seen = {(w.center, w.width) for w in out}
    for name, center, width in modality_presets(modality, params.units):
        if (center, width) not in seen:
            out.append(Window(center, width, "LINEAR", name))
            seen.add((center, width))
    return out


# ------------------------------------------------------------------------ renderer

class FrameRenderer:
    """Render one frame repeatedly with different windows, fast.

    Parameters
    ----------
    stored : numpy.ndarray
        Stored values as decoded: (rows, cols) grey or palette indices, or
        (rows, cols, 3) RGB. Not copied when already contiguous: do not modify it.
    params : DisplayParams
        The frame's parameters.

    Attributes
    ----------
    params : DisplayParams
        As given.
    shape : tuple of int
        Shape of the rendered output.

    Notes
    -----
    Integer grey frames spanning at most 65536 stored values are drawn through
    one uint8 table indexed by the stored value's bit pattern (8/16-bit data need
    no index array at all) or by stored - min (wider integer types). The modality
    values of the stored range are computed once; each render builds the table
    (VOI + presentation) over that range and does one ``np.take``.

    A renderer reuses its table between calls: share one across threads only
    with a lock.
    """

    def __init__(self, stored: np.ndarray, params: DisplayParams):
        stored = np.asarray(stored)
        self.params = params
        self._auto: Window | None = None
        self._counts = None  # (values, counts, stored values) once histogrammed
        self._colour = params.is_colour
        if self._colour:
            self._init_colour(stored)
        else:
            if stored.ndim != 2:
                raise ValueError(f"a grey frame must be 2-D, got shape {stored.shape}")
            self._init_grey(stored)

    # -- setup

    def _init_colour(self, stored: np.ndarray) -> None:
        if self.params.photometric == "PALETTE COLOR" and stored.ndim == 2:
            if self.params.palette is None:
                raise ValueError("PALETTE COLOR frame without a readable palette")
            self._rgb = apply_palette(stored, self.params.palette)
        elif stored.ndim == 3 and stored.shape[2] == 3:
            self._rgb = rgb_to_8bit(stored, self.params.bits_stored)
        else:
            raise ValueError(f"a colour frame must be (rows, cols, 3), got {stored.shape}")
        self.shape = self._rgb.shape

    def _init_grey(self, stored: np.ndarray) -> None:
        self.shape = stored.shape
        self._index = None
        if stored.dtype.kind in "uib" and stored.size:
            stored = stored.astype(stored.dtype.newbyteorder("="), copy=False)
            lo, hi = int(stored.min()), int(stored.max())
            if hi - lo < _TABLE_LIMIT:
                self._init_table(stored, lo, hi)
                return
        # Float data or a range too wide for a table: keep modality values per pixel
        self._modality = modality_values(stored, self.params).astype(np.float32)
        self._stored = stored
        nan = np.isnan(self._modality)
        self._nan = nan if nan.any() else None

    def _init_table(self, stored: np.ndarray, lo: int, hi: int) -> None:
        self._values = np.arange(lo, hi + 1, dtype=np.int64)
        self._range_modality = modality_values(self._values, self.params)
        size = stored.dtype.itemsize
        if stored.dtype.kind == "b" or size > 2:
            # Index by offset from the minimum (one uint16 copy, made once)
            self._index = (stored.astype(np.int64) - lo).astype(np.uint16)
            self._slices = [(slice(0, hi - lo + 1), slice(None))]
            self._table = np.zeros(hi - lo + 1, np.uint8)
            return
        # 8/16-bit: index by the value's own bit pattern, no copy; negative values
        # land at the top of the table (two's complement), so split the range there.
        self._index = np.ascontiguousarray(stored).view(f"u{size}")
        n = 1 << (8 * size)
        self._table = np.zeros(n, np.uint8)
        if lo >= 0 or hi < 0:
            start = lo % n
            self._slices = [(slice(start, start + hi - lo + 1), slice(None))]
        else:
            self._slices = [(slice(n + lo, n), slice(0, -lo)), (slice(0, hi + 1), slice(-lo, None))]

    # -- public

    @property
    def modality_range(self) -> tuple[float, float]:
        """Smallest and largest modality value present in the frame (0..255 for colour)."""
        if self._colour:
            return (0.0, 255.0)
        values, counts = self._histogram()
        values = values[(counts > 0) & np.isfinite(values)]
        return (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)

    def auto_window(self) -> Window:
        """The robust percentile window of this frame (cached); see :func:`auto_window`."""
        if self._auto is None:
            values, counts = self._histogram(exclude_padding=True)
            self._auto = _window_from_histogram(values, counts)
        return self._auto

    def default_window(self) -> Window | None:
        """As :func:`default_window`, with the auto window cached."""
        p = self.params
        if p.is_colour:
            return None
        if p.windows:
            return p.windows[0]
        return None if p.voi_luts else self.auto_window()

    def render(self, window: Window | None = None, *, use_voi_lut: int | None = None,
               invert: bool = False, out: np.ndarray | None = None) -> np.ndarray:
        """Render the frame to 8-bit display values.

        Parameters
        ----------
        window : Window, optional
            VOI window; None uses :meth:`default_window` (for grey frames whose
            file has a VOI LUT and no window, that LUT).
        use_voi_lut : int, optional
            Index into ``params.voi_luts``: apply that VOI LUT instead of a window.
        invert : bool
            The viewer's extra inversion, on top of the standard presentation.
        out : numpy.ndarray, optional
            Preallocated C-contiguous uint8 array of the output shape to write into.

        Returns
        -------
        numpy.ndarray
            uint8, (rows, cols) for grey, (rows, cols, 3) for colour (VOI does not
            apply to colour; an explicit window is applied to the 8-bit channels).
        """
        if window is not None and use_voi_lut is not None:
            raise ValueError("pass either a window or use_voi_lut, not both")
        if self._colour:
            return self._render_colour(window, invert, out)
        lut = None
        if use_voi_lut is not None:
            lut = self.params.voi_luts[use_voi_lut]
        elif window is None:
            window = self.default_window()
            if window is None:
                lut = self.params.voi_luts[0]
        flip = self.params.invert != bool(invert)
        if self._index is None:
            y = self._voi(self._modality, window, lut)
            result = _to_uint8(np.nan_to_num(y, nan=0.0), flip)
            if self._nan is not None:
                result[self._nan] = 0  # no value: black, inverted or not
            if out is None:
                return result
            out[...] = result
            return out
        lut8 = _to_uint8(self._voi(self._range_modality, window, lut), flip)
        for table_part, lut_part in self._slices:
            self._table[table_part] = lut8[lut_part]
        if out is None:
            out = np.empty(self.shape, np.uint8)
        # mode="clip" lets numpy write into `out` directly (mode="raise" buffers it)
        return np.take(self._table, self._index, out=out, mode="clip")

    # -- internals

    @staticmethod
    def _voi(x: np.ndarray, window: Window | None, lut: LUT | None) -> np.ndarray:
        if lut is not None:
            return apply_lut(x, lut)
        return apply_window(x, window)

    def _render_colour(self, window: Window | None, invert: bool,
                       out: np.ndarray | None) -> np.ndarray:
        if window is None and not invert:
            if out is None:
                return self._rgb.copy()
            out[...] = self._rgb
            return out
        levels = np.arange(256, dtype=np.float64)
        y = apply_window(levels, window) if window is not None else levels
        table = _to_uint8(y, invert)
        if out is None:
            out = np.empty(self.shape, np.uint8)
        return np.take(table, self._rgb, out=out, mode="clip")

    def _histogram(self, exclude_padding: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Distinct modality values and their pixel counts (or samples and ones)."""
        if self._colour:
            raise ValueError("no VOI window for colour images")
        if self._counts is None:
            self._counts = self._count_pixels()
        values, counts, stored = self._counts
        pad = self.params.padding
        if exclude_padding and pad is not None and stored is not None:
            keep = (stored < pad[0]) | (stored > pad[1])
            if (counts * keep).any():  # an all-padding frame keeps its pixels
                counts = counts * keep
        return values, counts

    def _count_pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if self._index is not None:
            counts = np.bincount(self._index.ravel(), minlength=len(self._table))
            per_value = np.concatenate([counts[t] for t, _ in self._slices])
            return self._range_modality, per_value, self._values
        # per-pixel path: percentiles of a regular subsample are plenty
        step = max(1, self._modality.size >> 20)
        values = self._modality.ravel()[::step].astype(np.float64)
        stored = self._stored.ravel()[::step] if self._stored.dtype.kind != "f" else None
        finite = np.isfinite(values)
        stored = stored[finite] if stored is not None else None
        return values[finite], np.ones(int(finite.sum()), np.int64), stored


def _window_from_histogram(values: np.ndarray, counts: np.ndarray) -> Window:
    present = counts > 0
    values, counts = values[present], counts[present]
    if values.size == 0:
        return Window(0.5, 1.0, "LINEAR", "Auto")
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(counts[order])
    targets = np.array(_AUTO_PERCENTILES) / 100.0 * cum[-1]
    lo_i, hi_i = np.searchsorted(cum, targets, side="left")
    lo, hi = float(values[lo_i]), float(values[min(hi_i, values.size - 1)])
    if hi <= lo:
        lo, hi = float(values[0]), float(values[-1])
    span = hi - lo
    if not np.array_equal(values, np.round(values)) and span > 0.0:
        # non-integer modality values: the exact form maps lo -> 0 and hi -> 255
        return Window((lo + hi) / 2.0, span, "LINEAR_EXACT", "Auto")
    # LINEAR reaches 0 at c - 0.5 - (w-1)/2 and 255 at c - 0.5 + (w-1)/2; a constant
    # frame gets w = 1, a threshold just below its value
    return Window((lo + hi) / 2.0 + 0.5, span + 1.0, "LINEAR", "Auto")


def render(stored: np.ndarray, params: DisplayParams, window: Window | None = None) -> np.ndarray:
    """Render one frame once: ``FrameRenderer(stored, params).render(window)``.

    Parameters
    ----------
    stored : numpy.ndarray
        The frame's stored values.
    params : DisplayParams
        The frame's parameters.
    window : Window, optional
        None uses the default window.

    Returns
    -------
    numpy.ndarray
        uint8 display values, (rows, cols) or (rows, cols, 3).
    """
    return FrameRenderer(stored, params).render(window)
