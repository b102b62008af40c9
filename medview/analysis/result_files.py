"""The DICOM objects an analysis result leaves as, written into a folder: a segmentation's
SEG (:mod:`medview.inference.seg_dicom`) and, on request, its burned-in secondary capture
(:mod:`.sc_dicom`); a classification's TID 1500 SR (:mod:`medview.inference.sr_dicom`).
``medview analyze --dicom-out`` and the PACS panel's Send AI result use this one function."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medview.core.sr.documents import why_not_referenceable


@dataclass
class ResultFiles:
    """What :func:`write_result_files` wrote: ``dicom`` the SEG or SR, ``capture`` the
    secondary capture (None when not written), ``notes`` why one was not written."""

    dicom: Path | None = None
    capture: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.dicom, self.capture) if p is not None]


def write_result_files(result, frame, out_dir: Path, used: set[str] | None = None, *,
                       capture: bool = False, demo: bool = False) -> ResultFiles:
    """Write ``result``'s DICOM objects over ``frame`` into ``out_dir``.

    Parameters
    ----------
    used : set of str, optional
        File names taken already in ``out_dir`` by this run (two images with one file name
        in two folders keep both outputs); the new names are added.
    capture : bool
        Also a secondary capture with a segmentation's mask burned in.
    demo : bool
        The model is a demo (:func:`medview.analysis.sc_dicom.is_demo_model`): the capture
        says NOT FOR DIAGNOSIS.
    """
    from medview.analysis.sc_dicom import why_no_sc, write_sc
    from medview.inference.seg_dicom import why_no_seg, write_seg
    from medview.inference.sr_dicom import write_classification_sr

    used = set() if used is None else used
    out = ResultFiles()
    segmentation = result.task == "segmentation"
    reason = why_no_seg(frame) if segmentation else why_not_referenceable(frame)
    if reason:
        out.notes.append(f"no DICOM {'SEG' if segmentation else 'SR'}: {reason}")
    else:
        kind = "seg" if segmentation else "sr"
        out.dicom = out_dir / unique_name(frame, f"{result.model}-{kind}", ".dcm", used)
        (write_seg if segmentation else write_classification_sr)(result, frame, out.dicom)
    if capture and segmentation:
        reason = why_no_sc(frame)
        if reason:
            out.notes.append(f"no DICOM secondary capture: {reason}")
        else:
            out.capture = out_dir / unique_name(frame, f"{result.model}-sc", ".dcm", used)
            write_sc(result, frame, out.capture, demo=demo)
    return out


def unique_name(frame, what: str, ext: str, used: set[str]) -> str:
    """``<image file stem>[_frameN]_<what><ext>``, numbered when ``used`` has it already."""
    count = int(frame.get("NumberOfFrames", 1) or 1)
    suffix = f"_frame{frame.index + 1}" if count > 1 else ""
    stem = f"{frame.path.stem}{suffix}_{what}"
    name, n = f"{stem}{ext}", 2
    while name in used:  # same file name in two folders: keep both outputs
        name, n = f"{stem}_{n}{ext}", n + 1
    used.add(name)
    return name
