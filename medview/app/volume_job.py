"""Building the volume of a series off the GUI thread, with progress (for MPR).

:func:`build_volume` is a generator for :class:`medview.qt.workers.Worker`: it decodes
the frames one by one, yielding ``(done, total)`` so the window can show progress and
cancel between frames, then stacks them (:meth:`medview.core.volume.Volume.from_series`,
which finds them decoded in the pixel cache). No Qt here.
"""

from __future__ import annotations

from medview.core.imports import load


def build_volume(series):
    """Pool thread: yield ``(frames decoded, frames)``, return the series' Volume.

    Raises
    ------
    NotAVolume
        When the frames are not one block of parallel slices (the reason in one line).
    ReadError
        When a frame cannot be decoded (names the file).
    """
    volume = load("medview.core.volume")
    reason = volume.refusal(series)
    if reason is not None:
        raise volume.NotAVolume(reason)
    frames = list(series.frames)
    for done, frame in enumerate(frames, 1):
        frame.stored()
        yield done, len(frames)
    return volume.Volume.from_series(series)
