"""Where a run's events go: stdout (or another stream) and the run folder's ``events.jsonl``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from trainer import events as ev

__all__ = ["EventSink"]


class EventSink:
    """Emits events on a stream (stdout) and appends them to ``events.jsonl``.

    Only the main process of a distributed job emits (``enabled``). A reader that went
    away (closed pipe) does not stop the job: the file still gets every event.
    """

    def __init__(self, job_id: str, events_file: Path | None, stream: IO[str] | None = None,
                 enabled: bool = True) -> None:
        self.job_id, self.events_file, self.enabled = job_id, events_file, enabled
        self.stream = stream
        self._stream_ok = True
        self._file_ok = True

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
        if self.events_file is not None and self._file_ok:
            try:
                with open(self.events_file, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError as err:
                self._file_ok = False  # disk full: the stream still carries the events
                print(f"trainer: cannot append to {self.events_file}: {err}", file=sys.stderr)

    def log(self, level: str, message: str) -> None:
        self.emit(ev.Log(job=self.job_id, level=level, message=message))
