"""Sending files to a node (C-STORE or STOW-RS), each object listed in the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from medview.core.imports import load
from medview.inference.audit import AuditLog, entry_header
from medview.pacs import dicomweb, dimse
from medview.pacs.nodes import LocalAE, Node


@dataclass(frozen=True)
class SendItem:
    """A file to send, with what the association needs to know about it."""

    path: Path
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    transfer_syntax: str = ""


@dataclass(frozen=True)
class SendOutcome:
    """One file's fate: ``reason`` is empty when the node stored it."""

    path: Path
    sop_instance_uid: str
    reason: str

    @property
    def sent(self) -> bool:
        return not self.reason


def prepare(path: Path) -> SendItem | str:
    """The header fields sending needs, or why the file cannot be sent."""
    pydicom = load("pydicom")
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True,
                             specific_tags=["SOPClassUID", "SOPInstanceUID"])
        item = SendItem(Path(path), str(ds.SOPClassUID), str(ds.SOPInstanceUID),
                        str(ds.file_meta.TransferSyntaxUID))
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one reason line
        return f"not a DICOM file medview can send ({type(exc).__name__})"
    return item


def send_files(node: Node, local: LocalAE, paths: list[Path],
               on_outcome: Callable[[SendOutcome], None] | None = None,
               audit: AuditLog | None = None,
               audit_fields: Callable[[Path], dict] | None = None) -> list[SendOutcome]:
    """Send ``paths`` to ``node``; every object sent (or refused) goes in the audit log.

    Files that cannot be read are reported without opening a connection for them.
    ``audit_fields(path)`` may add to or replace a file's audit fields (an anonymised
    copy records its source file). Raises :class:`~medview.pacs.errors.PacsError` when
    the node cannot be reached.
    """
    audit = audit or AuditLog()
    outcomes: list[SendOutcome] = []

    def report(outcome: SendOutcome, sent_to_node: bool) -> None:
        if sent_to_node:
            audit.append({**entry_header(), "event": "pacs-send", "node": node.name,
                          "address": node.address(), "file": str(outcome.path),
                          "sop_instance_uid": outcome.sop_instance_uid,
                          "result": outcome.reason or "stored",
                          **(audit_fields(outcome.path) if audit_fields else {})})
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    items = []
    for path in paths:
        prepared = prepare(Path(path))
        if isinstance(prepared, str):
            report(SendOutcome(Path(path), "", prepared), sent_to_node=False)
        else:
            items.append(prepared)
    for item, reason in _transfer(node, local, items):
        report(SendOutcome(item.path, item.sop_instance_uid, reason), sent_to_node=True)
    return outcomes


def _transfer(node: Node, local: LocalAE, items: list[SendItem]) -> Iterator[tuple[SendItem, str]]:
    if not items:
        return iter(())
    if node.is_dicomweb:
        return dicomweb.store_files(node, items)
    return dimse.store_files(node, local, items)
