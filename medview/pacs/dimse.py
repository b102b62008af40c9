"""DIMSE through pynetdicom: C-ECHO, C-FIND, C-GET, C-MOVE and C-STORE to one node.

Every failure becomes a :class:`~medview.pacs.errors.PacsError` naming the node: an
association the node refused (with the reason it gave), nothing listening, no answer in
time, a connection lost mid-transfer.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medview.core.imports import load
from medview.pacs.errors import (AssociationRejected, NodeUnreachable, PacsError,
                                 RetrieveCancelled, TransferFailed)
from medview.pacs.listener import StorageListener
from medview.pacs.nodes import LocalAE, Node
from medview.pacs.query import INSTANCE_KEYS, SERIES_KEYS, STUDY_KEYS, StudyQuery, summary
from medview.pacs.receive import store_event
from medview.pacs.storage import (InstanceRef, instances_on_disk, missing_requests,
                                  study_folder, valid_uid)
from medview.pacs.transfer import ProgressFn, RetrieveResult, Tracker

_PENDING = (0xFF00, 0xFF01)
_LEVELS = ("STUDY", "SERIES", "IMAGE")
_UID_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
# Hints for the A-ASSOCIATE-RJ reasons a user can do something about.
_REJECT_HINTS = {
    "Called AE title not recognised": "is the node's AE title '{node}' right?",
    "Calling AE title not recognised": "the node does not know medview's AE title '{local}'",
}


def _sop():
    return load("pynetdicom.sop_class")


# -- associations --------------------------------------------------------------

@contextmanager
def association(node: Node, local: LocalAE, contexts: list[tuple[str, list[str] | None]],
                roles: list | None = None, handlers: list | None = None) -> Iterator:
    """An established association with ``node``; released on exit, aborted on error.

    Parameters
    ----------
    contexts : list of (abstract syntax, transfer syntaxes or None)
        Presentation contexts to propose (at most 128).
    roles : list, optional
        SCP/SCU role selection items (C-GET's storage sub-operations).
    handlers : list, optional
        pynetdicom event handlers, e.g. ``(evt.EVT_C_STORE, fn)``.
    """
    pynetdicom = load("pynetdicom")
    ae = pynetdicom.AE(ae_title=local.ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = node.timeout_s
    ae.connection_timeout = node.timeout_s
    ae.maximum_pdu_size = 0
    for abstract, syntaxes in contexts:
        if syntaxes:
            ae.add_requested_context(abstract, syntaxes)
        else:
            ae.add_requested_context(abstract)
    seen: dict[str, object] = {}  # what happened before an association failed

    def on_acse(event) -> None:
        primitive = event.primitive
        if getattr(primitive, "result", None) in (0x01, 0x02):
            seen["rejected"] = primitive.reason_str

    evt = pynetdicom.evt
    watch = [(evt.EVT_ACSE_RECV, on_acse),
             (evt.EVT_CONN_OPEN, lambda event: seen.setdefault("connected", True))]
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title, ext_neg=roles or None,
                         tls_args=_tls_args(node), evt_handlers=list(handlers or []) + watch)
    if not assoc.is_established:
        _close_socket(assoc)
        raise _association_error(node, local, assoc, seen)
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    if assoc.is_established:
        assoc.release()


def _close_socket(assoc) -> None:
    """Close the socket of a failed association: pynetdicom 3.0 skips ``close()`` when
    ``shutdown()`` fails on a connection the peer already dropped."""
    raw = getattr(getattr(assoc.dul, "socket", None), "socket", None)
    if raw is not None:
        raw.close()


def _tls_args(node: Node):
    if not node.tls:
        return None
    return ssl.create_default_context(cafile=node.tls_ca or None), node.host


def _association_error(node: Node, local: LocalAE, assoc, seen: dict) -> PacsError:
    where = node.address()
    if not seen.get("connected"):
        return _why_unreachable(node)
    if "rejected" in seen:
        reason = str(seen["rejected"])
        hint = _REJECT_HINTS.get(reason, "")
        hint = f" ({hint.format(node=node.ae_title, local=local.ae_title)})" if hint else ""
        return AssociationRejected(node.name, f"{where} refused the association: {reason}{hint}")
    if assoc.is_aborted:
        return AssociationRejected(node.name, f"{where} aborted the association request (is "
                                              "TLS set the same on both sides?)")
    tls = " (is TLS set the same on both sides?)" if node.tls else ""
    return NodeUnreachable(node.name, f"{where} accepted the connection but did not answer "
                                      f"the association request{tls}")


def _why_unreachable(node: Node) -> PacsError:
    """Tell a port nobody listens on from a host that does not answer (one more connect:
    pynetdicom does not pass on why its own connect failed)."""
    where = f"{node.host}:{node.port}"
    try:
        with socket.create_connection((node.host, node.port), timeout=node.timeout_s) as probe:
            if node.tls:
                context, hostname = _tls_args(node)
                context.wrap_socket(probe, server_hostname=hostname).close()
    except ssl.SSLError as exc:
        why = getattr(exc, "verify_message", None) or exc.reason or exc
        return NodeUnreachable(node.name, f"TLS with {where} failed ({why})")
    except ConnectionRefusedError:
        return NodeUnreachable(node.name, f"connection refused at {where} (is the PACS running, "
                                          "and is the port right?)")
    except TimeoutError:
        return NodeUnreachable(node.name, f"{where} did not answer within {node.timeout_s:g} s")
    except OSError as exc:
        return NodeUnreachable(node.name, f"cannot reach {where} ({exc.strerror or exc})")
    return NodeUnreachable(node.name, f"could not connect to {where} within "
                                      f"{node.timeout_s:g} s")


def _check_open(node: Node, status) -> None:
    """An empty status: the association was aborted, timed out or the peer went away."""
    if not status:
        raise TransferFailed(node.name, "the connection was lost or timed out "
                                        f"({node.address()})")


# -- echo, find ----------------------------------------------------------------

def echo(node: Node, local: LocalAE) -> float:
    """C-ECHO; returns the round trip in seconds."""
    start = time.perf_counter()
    with association(node, local, [(_sop().Verification, None)]) as assoc:
        status = assoc.send_c_echo()
        _check_open(node, status)
        if status.Status != 0x0000:
            raise TransferFailed(node.name, f"C-ECHO answered status 0x{status.Status:04X}")
    return time.perf_counter() - start


def find_studies(node: Node, local: LocalAE, query: StudyQuery,
                 limit: int = 1000) -> tuple[list[dict], bool]:
    """Study-level C-FIND; returns (results, whether more than ``limit`` matched)."""
    keys = query.matching_keys(node.name)
    with association(node, local, [(_sop().StudyRootQueryRetrieveInformationModelFind,
                                     None)]) as assoc:
        found, truncated = _find(assoc, node, "STUDY", keys, STUDY_KEYS, limit)
    return [summary(ds, STUDY_KEYS) for ds in found], truncated


def find_series(node: Node, local: LocalAE, study_uid: str) -> list[dict]:
    """Series-level C-FIND of one study."""
    with association(node, local, [(_sop().StudyRootQueryRetrieveInformationModelFind,
                                     None)]) as assoc:
        found, _ = _find(assoc, node, "SERIES", {"StudyInstanceUID": study_uid}, SERIES_KEYS)
    return [summary(ds, SERIES_KEYS) for ds in found]


def list_instances(node: Node, local: LocalAE, study_uid: str) -> list[InstanceRef]:
    """Every SOP instance of a study (a series-level then image-level C-FIND per series)."""
    with association(node, local, [(_sop().StudyRootQueryRetrieveInformationModelFind,
                                     None)]) as assoc:
        series, _ = _find(assoc, node, "SERIES", {"StudyInstanceUID": study_uid}, SERIES_KEYS)
        refs = []
        for s in series:
            series_uid = valid_uid(s.get("SeriesInstanceUID"))
            if series_uid is None:
                continue
            images, _ = _find(assoc, node, "IMAGE", {"StudyInstanceUID": study_uid,
                                                     "SeriesInstanceUID": series_uid},
                              INSTANCE_KEYS)
            refs.extend(InstanceRef(series_uid, uid, str(ds.get("SOPClassUID", "")))
                        for ds in images if (uid := valid_uid(ds.get("SOPInstanceUID"))))
    return refs


def _find(assoc, node: Node, level: str, keys: dict[str, str], returned: tuple[str, ...],
          limit: int | None = None) -> tuple[list, bool]:
    pydicom = load("pydicom")
    identifier = pydicom.Dataset()
    identifier.QueryRetrieveLevel = level
    for key in returned:
        setattr(identifier, key, "")
    for key, value in keys.items():
        setattr(identifier, key, value)
    if not all(v.isascii() for v in keys.values()):
        identifier.SpecificCharacterSet = "ISO_IR 192"  # UTF-8, for a name like "Müller*"
    found = []
    for status, ds in assoc.send_c_find(identifier,
                                        _sop().StudyRootQueryRetrieveInformationModelFind):
        _check_open(node, status)
        if status.Status in _PENDING:
            if ds is not None:
                found.append(ds)
            if limit is not None and len(found) > limit:
                assoc.abort()  # a C-FIND with thousands of matches: stop, say so
                return found[:limit], True
        elif status.Status != 0x0000:
            raise TransferFailed(node.name, f"{level.lower()} query failed "
                                            f"(status 0x{status.Status:04X}{_comment(status)})")
    return found, False


def _comment(status) -> str:
    text = str(status.get("ErrorComment", "") or "")
    return f": {text}" if text else ""


# -- retrieve --------------------------------------------------------------------

def get_study(node: Node, local: LocalAE, study_uid: str, root: Path,
              progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> RetrieveResult:
    """C-GET a study into ``root/<study UID>``, asking only for what is not there yet."""
    pynetdicom = load("pynetdicom")
    refs, requests, tracker = _plan(node, local, study_uid, root, progress, cancel)
    if requests:
        classes = sorted({r.sop_class_uid for r in refs if valid_uid(r.sop_class_uid)})
        if not classes or len(classes) > 127:
            classes = [c.abstract_syntax for c in pynetdicom.StoragePresentationContexts][:127]
        model = _sop().StudyRootQueryRetrieveInformationModelGet
        contexts = [(model, None)] + _storage_contexts(classes, 127)
        roles = [pynetdicom.build_role(c, scp_role=True) for c in classes]
        handler = (pynetdicom.evt.EVT_C_STORE,
                   lambda event: store_event(event, root, tracker.arrived))
        with association(node, local, contexts, roles, [handler]) as assoc:
            for request in requests:
                _retrieve(assoc, node, tracker, assoc.send_c_get(_identifier(request), model))
    return _finished(node, refs, root, study_uid, tracker)


def _storage_contexts(classes: list[str], budget: int) -> list[tuple[str, list[str]]]:
    """Contexts for receiving ``classes`` as stored: one uncompressed context per class,
    and one per compressed transfer syntax while the 128-context budget lasts.

    A node picks one transfer syntax per context, and prefers uncompressed ones; a
    compressed object is sent as stored only if a context offers that syntax alone
    (else the node must transcode it, which Orthanc, for one, cannot for JPEG 2000).
    """
    uid = load("pydicom.uid")
    uncompressed = [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian]
    compressed = [uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLosslessSV1,
                  uid.JPEGLossless, uid.JPEGLSLossless, uid.JPEGLSNearLossless,
                  uid.JPEG2000Lossless, uid.JPEG2000, uid.RLELossless,
                  uid.DeflatedExplicitVRLittleEndian, uid.ExplicitVRBigEndian]
    extra = max(0, budget // len(classes) - 1)
    return [(c, syntaxes) for c in classes
            for syntaxes in [uncompressed] + [[ts] for ts in compressed[:extra]]]


def move_study(node: Node, local: LocalAE, study_uid: str, root: Path,
               progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> RetrieveResult:
    """C-MOVE a study to medview's own storage SCP, listening on ``local.port`` meanwhile.

    The node must know ``local.ae_title`` with this machine's address and that port.
    """
    refs, requests, tracker = _plan(node, local, study_uid, root, progress, cancel)
    if requests:
        model = _sop().StudyRootQueryRetrieveInformationModelMove
        with StorageListener(root, local.ae_title, local.port, on_stored=tracker.arrived), \
                association(node, local, [(model, None)]) as assoc:
            for request in requests:
                _retrieve(assoc, node, tracker,
                          assoc.send_c_move(_identifier(request), local.ae_title, model))
    return _finished(node, refs, root, study_uid, tracker)


def _plan(node, local, study_uid, root, progress, cancel):
    refs = list_instances(node, local, study_uid)
    if not refs:
        raise PacsError(node.name, f"has no study with StudyInstanceUID {study_uid}")
    present = instances_on_disk(root, study_uid) & {r.sop_uid for r in refs}
    tracker = Tracker(len(refs), len(present), progress, cancel)
    return refs, missing_requests(study_uid, refs, present), tracker


def _identifier(request: tuple[str, ...]):
    ds = load("pydicom").Dataset()
    ds.QueryRetrieveLevel = _LEVELS[len(request) - 1]
    for key, uid in zip(_UID_KEYS, request):
        setattr(ds, key, uid)
    return ds


def _retrieve(assoc, node: Node, tracker: Tracker, responses) -> None:
    """Follow C-GET/C-MOVE responses to the final one; stop when cancelled."""
    for status, _ in responses:
        if tracker.cancelled:
            assoc.abort()
            raise RetrieveCancelled(node.name, f"retrieve cancelled after "
                                               f"{tracker.skipped + tracker.received} of "
                                               f"{tracker.total} images (run it again to resume)")
        if not status:
            raise _interrupted(node, tracker, "the connection was lost or timed out")
        code = status.Status
        if code in _PENDING or code in (0x0000, 0xB000):
            continue  # 0xB000: some sub-operations failed; _finished says which are missing
        if code == 0xA801:
            raise TransferFailed(node.name, f"does not know medview's AE title "
                                            f"'{assoc.ae.ae_title}' as a move destination (add "
                                            "it to the PACS with this machine's address and "
                                            "port, or use C-GET)")
        raise _interrupted(node, tracker, f"the retrieve failed (status 0x{code:04X}"
                                          f"{_comment(status)})")


def _interrupted(node: Node, tracker: Tracker, why: str) -> TransferFailed:
    return TransferFailed(node.name, f"{why} after {tracker.skipped + tracker.received} of "
                                     f"{tracker.total} images; what arrived is kept, run the "
                                     "same retrieve again to resume")


def _finished(node, refs, root, study_uid, tracker) -> RetrieveResult:
    missing = {r.sop_uid for r in refs} - instances_on_disk(root, study_uid)
    if missing:
        raise TransferFailed(node.name, f"{len(missing)} of {len(refs)} images did not arrive; "
                                        "what arrived is kept, run the same retrieve again "
                                        "to resume")
    return tracker.result(study_uid, study_folder(root, study_uid))


# -- send --------------------------------------------------------------------------

def store_files(node: Node, local: LocalAE, items: list) -> Iterator[tuple[object, str]]:
    """C-STORE prepared files; yields ``(item, "")`` when stored, ``(item, reason)`` if not.

    ``items`` carry ``path``, ``sop_class_uid`` and ``transfer_syntax`` (see
    :mod:`medview.pacs.send`); one association per 128 distinct (class, syntax) pairs.
    """
    for batch in _context_batches(items):
        pairs = sorted({(i.sop_class_uid, i.transfer_syntax) for i in batch})
        with association(node, local, [(c, [t]) for c, t in pairs]) as assoc:
            for item in batch:
                yield item, _store_one(assoc, node, item)


def _context_batches(items: list, size: int = 128) -> Iterator[list]:
    batch, pairs = [], set()
    for item in items:
        pair = (item.sop_class_uid, item.transfer_syntax)
        if pair not in pairs and len(pairs) == size:
            yield batch
            batch, pairs = [], set()
        pairs.add(pair)
        batch.append(item)
    if batch:
        yield batch


def _store_one(assoc, node: Node, item) -> str:
    try:
        status = assoc.send_c_store(item.path)
    except ValueError as exc:  # no accepted context for this class / transfer syntax
        return f"the node accepts no {item.transfer_syntax} for this object ({exc})"
    _check_open(node, status)
    if status.Status in (0x0000, 0xB000, 0xB007, 0xB006):
        return ""
    return f"refused (status 0x{status.Status:04X}{_comment(status)})"
