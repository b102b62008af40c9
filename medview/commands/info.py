"""``medview info``: the study tree of a folder, or every tag of one file."""

from __future__ import annotations

import sys
from pathlib import Path

from medview.commands.common import EXIT_BAD_INPUT, EXIT_OK, CliError, print_json
from medview.core.errors import ReadError
from medview.core.io import dicom, image
from medview.core.io.folder import load_paths
from medview.core.study import Library, Series
from medview.core.tags import TagRow, tag_rows


def info_file(path: Path, as_json: bool) -> int:
    """Print all tags of one DICOM file, or the size/format of a plain image."""
    try:
        if image.is_image_path(path):
            return _image_info(path, as_json)
        ds = dicom.read_header(path)
    except ReadError as err:
        raise CliError(str(err)) from None
    rows = tag_rows(ds)
    if as_json:
        print_json({"file": str(path), "tags": [r.to_dict() for r in rows]})
    else:
        print(f"# {path}")
        _print_rows(rows, depth=0)
    return EXIT_OK


def info_tree(path: Path, as_json: bool) -> int:
    """Print patient → study → series with key tags; skipped files go to stderr."""
    library = load_paths([path])
    if as_json:
        print_json(tree_dict(library))
    else:
        _print_tree(library)
    for skipped, reason in library.skipped:
        print(f"skipped {skipped}: {reason}", file=sys.stderr)
    if not library.patients:
        print(f"medview: {path}: no readable images", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def tree_dict(library: Library) -> dict:
    """The library as plain JSON-ready data."""
    return {
        "patients": [{
            "name": p.name, "id": p.id, "birth_date": p.birth_date, "sex": p.sex,
            "studies": [{
                "uid": st.uid, "date": st.date, "description": st.description,
                "accession": st.accession,
                "series": [series_dict(s) for s in st.series],
            } for st in p.studies],
        } for p in library.patients],
        "skipped": [{"path": str(p), "reason": r} for p, r in library.skipped],
    }


def series_dict(series: Series) -> dict:
    first = series.frames[0]
    rows, cols = first.shape
    syntax = dicom.transfer_syntax(first.header) if first.header is not None else None
    return {
        "uid": series.uid, "number": series.number, "modality": series.modality,
        "description": series.description, "images": len(series.frames),
        "files": len({f.path for f in series.frames}),
        "rows": rows, "columns": cols,
        "pixel_spacing_mm": [first.spacing.row_mm, first.spacing.col_mm],
        "spacing_source": first.spacing.source,
        "photometric": first.params.photometric,
        "transfer_syntax": syntax.name if syntax is not None else None,
    }


def _image_info(path: Path, as_json: bool) -> int:
    info = image.probe_image(path)
    data = {"file": str(path), "rows": info.rows, "columns": info.cols,
            "samples": info.samples, "bits": info.bits}
    if as_json:
        print_json(data)
    else:
        print(f"{path}: {info.cols}×{info.rows}, {info.bits}-bit, "
              f"{'grey' if info.samples == 1 else 'RGB'}")
    return EXIT_OK


def _print_rows(rows: list[TagRow], depth: int) -> None:
    pad = "  " * depth
    for r in rows:
        print(f"{pad}{r.tag} {r.vr:2} {r.keyword:<36} {r.value}")
        for n, item in enumerate(r.items, 1):
            print(f"{pad}  > item {n}")
            _print_rows(item, depth + 2)


def _print_tree(library: Library) -> None:
    for p in library.patients:
        print(f"{p.title}  born {p.birth_date or '?'}  sex {p.sex or '?'}")
        for st in p.studies:
            print(f"  Study {st.title}  accession {st.accession or '-'}  [{', '.join(st.modalities)}]")
            for s in st.series:
                d = series_dict(s)
                spacing = (f"{d['pixel_spacing_mm'][0]:.3g}×{d['pixel_spacing_mm'][1]:.3g} mm "
                           f"({d['spacing_source']})" if s.frames[0].spacing.calibrated
                           else "uncalibrated")
                print(f"    Series {s.title}: {d['images']} image(s), "
                      f"{d['columns']}×{d['rows']}, {spacing}, {d['transfer_syntax'] or 'image file'}")
