"""``medview anonymize``: PS3.15 basic-profile de-identification of a file or folder."""

from __future__ import annotations

import sys
from pathlib import Path

from medview.commands.common import EXIT_BAD_INPUT, EXIT_OK, CliError


def run_anonymize(src: Path, dst: Path, patient_name: str | None, patient_id: str | None) -> int:
    from medview.core.anonymize import Anonymizer, anonymize_path

    if not src.exists():
        raise CliError(f"{src}: file not found")
    if dst.resolve() == src.resolve():
        raise CliError(f"{dst}: output must differ from the source (sources are never overwritten)")
    report = anonymize_path(src, dst, Anonymizer.with_pseudonym(patient_name, patient_id))
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"anonymised {len(report.written)} file(s) into {dst}")
    return EXIT_OK if report.written else EXIT_BAD_INPUT
