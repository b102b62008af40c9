"""Where a run's events go: stdout (or another stream) and the run folder's ``events.jsonl``."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import IO

from trainer import events as ev

__all__ = ["EventSink", "append_line"]

# Windows opens files in text mode unless told otherwise; lines are written as bytes.
_BINARY = getattr(os, "O_BINARY", 0)


class EventSink:
    """Emits events on a stream (stdout) and appends them to ``events.jsonl``.

    Only the main process of a distributed job emits (``enabled``). A reader that went
    away (closed pipe) does not stop the job: the file still gets every event. A line
    that cannot be appended (disk full) is left out whole, never half written, and the
    next event tries again (space may have been freed, e.g. by a failed checkpoint's
    temporary file): the ``failed`` event that reports the full disk usually lands.
    """

    def __init__(self, job_id: str, events_file: Path | None, stream: IO[str] | None = None,
                 enabled: bool = True) -> None:
        self.job_id, self.events_file, self.enabled = job_id, events_file, enabled
        self.stream = stream
        self._stream_ok = True
        self._file_failing = False

    def emit(self, event: ev.Event) -> None:
        if not self.enabled:
            return
        line = event.to_json() + "\n"
        if self._stream_ok:
            try:
                out = self.stream if self.stream is not None else sys.stdout
                out.write(line)
                out.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._stream_ok = False
        if self.events_file is not None:
            self._append(line)

    def _append(self, line: str) -> None:
        try:
            append_line(self.events_file, line)
        except OSError as err:
            if not self._file_failing:  # one warning per streak, not one per batch
                print(f"trainer: cannot append to {self.events_file}: {err}", file=sys.stderr)
            self._file_failing = True
        else:
            self._file_failing = False

    def log(self, level: str, message: str) -> None:
        self.emit(ev.Log(job=self.job_id, level=level, message=message))


def append_line(path: Path, line: str) -> None:
    """Append ``line`` (ending in a newline) to ``path`` whole, or not at all.

    One ``write`` call in append mode, so readers never see two writers' lines
    interleaved; a short write (disk full part-way) is truncated away. A file that
    already ends in a torn line (a writer killed part-way, a full disk before this
    version) gets a newline first, so the new line stays readable on its own.

    Raises
    ------
    OSError
        If the line could not be written (the file is as it was).
    """
    data = line.encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _BINARY, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and _last_byte(fd, size) != b"\n":
            data = b"\n" + data
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "No space left on device (short write)", str(path))
        except OSError:
            os.ftruncate(fd, size)  # never leave half a line behind
            raise
    finally:
        os.close(fd)


def _last_byte(fd: int, size: int) -> bytes:
    os.lseek(fd, size - 1, os.SEEK_SET)
    return os.read(fd, 1)
