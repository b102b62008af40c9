"""Cine: play a series or multi-frame image as a loop at a chosen frame rate."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal

MIN_FPS, MAX_FPS = 1, 60


class Cine(QObject):
    """Advances a :class:`~medview.qt.viewer.viewport.Viewport` on a timer.

    A frame still decoding holds the loop on the previous one (and asks for it
    first) rather than flashing "Decoding…": playback never outruns the decoder.
    """

    playingChanged = Signal(bool)

    def __init__(self, viewport, fps: int = 10) -> None:
        super().__init__(viewport)
        self.viewport = viewport
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.fps = fps

    @property
    def fps(self) -> int:
        return self._fps

    @fps.setter
    def fps(self, value: int) -> None:
        self._fps = max(MIN_FPS, min(MAX_FPS, int(value)))
        self._timer.setInterval(round(1000 / self._fps))

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self) -> None:
        if self.viewport.model.count > 1 and not self.playing:
            self._timer.start()
            self.playingChanged.emit(True)

    def stop(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playingChanged.emit(False)

    def toggle(self) -> None:
        self.stop() if self.playing else self.play()

    def _tick(self) -> None:
        vp = self.viewport
        m = vp.model
        n = m.count
        if n <= 1:
            self.stop()
            return
        nxt = (m.index + 1) % n
        frame = m.frames[nxt]
        if not frame.is_decoded and vp.loader.error_for(frame) is None:
            vp.loader.request_around(m.series, nxt)
            return
        m.set_index(nxt)
