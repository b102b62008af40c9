"""DICOMweb through dicomweb-client: QIDO-RS (search and ping), WADO-RS (retrieve) and
STOW-RS (send) to one node, with HTTP basic or bearer authentication.

Secrets come from the environment variables the node names, read at each connection.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medview.core.imports import load
from medview.pacs.errors import (AssociationRejected, NodeConfigError, NodeUnreachable, PacsError,
                                 RetrieveCancelled, TransferFailed)
from medview.pacs.nodes import Node
from medview.pacs.query import SERIES_KEYS, STUDY_KEYS, StudyQuery, summary
from medview.pacs.storage import (InstanceRef, instances_on_disk, missing_requests,
                                  study_folder, valid_uid, write_instance)
from medview.pacs.transfer import ProgressFn, RetrieveResult, Tracker

# WADO-RS: the objects as stored (no transcoding on the server).
_AS_STORED = (("application/dicom", "*"),)


def client(node: Node):
    """A ``DICOMwebClient`` for ``node`` (no request is made yet)."""
    web = load("dicomweb_client.api")
    requests = load("requests")
    session = requests.Session()
    headers = {}
    if node.user:
        session.auth = (node.user, _secret(node, node.password_env, "password"))
    if node.token_env:
        headers["Authorization"] = "Bearer " + _secret(node, node.token_env, "token")
    if node.tls_ca:
        session.verify = node.tls_ca
    api = web.DICOMwebClient(node.url, session=session, headers=headers or None,
                             timeout=node.timeout_s)
    api.set_http_retry_params(retry=False)  # a node that is down says so at once
    return api


def _secret(node: Node, variable: str, what: str) -> str:
    value = os.environ.get(variable, "") if variable else ""
    if not value:
        raise NodeConfigError(node.name, f"the {what} is read from the environment variable "
                                         f"{variable or '(none named)'}, which is not set")
    return value


@contextmanager
def web_errors(node: Node) -> Iterator[None]:
    """Turn HTTP, connection and parsing failures into one line naming the node."""
    requests = load("requests")
    try:
        yield
    except PacsError:
        raise
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else 0
        if code in (401, 403):
            raise AssociationRejected(node.name, f"{node.url} refused the credentials "
                                                 f"(HTTP {code})") from None
        if code == 404:
            raise PacsError(node.name, f"{node.url}: not found (HTTP 404; is the DICOMweb URL "
                                       "right?)") from None
        raise TransferFailed(node.name, f"{node.url} answered HTTP {code}") from None
    except requests.exceptions.Timeout:
        raise NodeUnreachable(node.name, f"{node.url} did not answer within "
                                         f"{node.timeout_s:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        raise NodeUnreachable(node.name, f"cannot connect to {node.url} "
                                         f"({_root_cause(exc)})") from None
    except (ValueError, KeyError, TypeError, EOFError) as exc:  # requests' JSON errors too
        raise TransferFailed(node.name, f"{node.url} sent a response medview cannot read "
                                        f"({type(exc).__name__})") from None
    except requests.exceptions.RequestException as exc:
        raise TransferFailed(node.name, f"the transfer from {node.url} broke off "
                                        f"({_root_cause(exc)})") from None


def _root_cause(exc: BaseException) -> str:
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = " ".join(str(exc).split())
    return text[-120:] if text else type(exc).__name__


def echo(node: Node) -> float:
    """A QIDO-RS study search for one result: the DICOMweb ping. Round trip in seconds."""
    start = time.perf_counter()
    with web_errors(node):
        client(node).search_for_studies(limit=1)
    return time.perf_counter() - start


def find_studies(node: Node, query: StudyQuery, limit: int = 1000) -> tuple[list[dict], bool]:
    """QIDO-RS study search; returns (results, whether more than ``limit`` matched)."""
    keys = query.matching_keys(node.name)
    with web_errors(node):
        found = client(node).search_for_studies(limit=limit + 1, fields=list(STUDY_KEYS),
                                                search_filters=keys or None)
        datasets = [load("pydicom").Dataset.from_json(d) for d in found]
    return [summary(ds, STUDY_KEYS) for ds in datasets[:limit]], len(datasets) > limit


def find_series(node: Node, study_uid: str) -> list[dict]:
    """QIDO-RS series search of one study."""
    with web_errors(node):
        found = client(node).search_for_series(study_instance_uid=study_uid,
                                               fields=list(SERIES_KEYS), get_remaining=True)
        datasets = [load("pydicom").Dataset.from_json(d) for d in found]
    return [summary(ds, SERIES_KEYS) for ds in datasets]


def list_instances(node: Node, study_uid: str) -> list[InstanceRef]:
    """Every SOP instance of a study (one QIDO-RS instance search)."""
    with web_errors(node):
        found = client(node).search_for_instances(
            study_instance_uid=study_uid, fields=["SeriesInstanceUID", "SOPClassUID"],
            get_remaining=True)
        datasets = [load("pydicom").Dataset.from_json(d) for d in found]
    return [InstanceRef(series, sop, str(ds.get("SOPClassUID", ""))) for ds in datasets
            if (series := valid_uid(ds.get("SeriesInstanceUID")))
            and (sop := valid_uid(ds.get("SOPInstanceUID")))]


def get_study(node: Node, study_uid: str, root: Path, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> RetrieveResult:
    """WADO-RS a study into ``root/<study UID>``, asking only for what is not there yet."""
    refs = list_instances(node, study_uid)
    if not refs:
        raise PacsError(node.name, f"has no study with StudyInstanceUID {study_uid}")
    present = instances_on_disk(root, study_uid) & {r.sop_uid for r in refs}
    tracker = Tracker(len(refs), len(present), progress, cancel)
    api = client(node)
    for request in missing_requests(study_uid, refs, present):
        with web_errors(node):
            try:
                for ds in _objects(api, request):
                    if tracker.cancelled:
                        raise RetrieveCancelled(node.name, _stopped("retrieve cancelled", tracker))
                    tracker.arrived(_write(root, ds))
            except load("requests").exceptions.RequestException as exc:
                raise TransferFailed(node.name, _stopped(f"the transfer broke off "
                                                         f"({_root_cause(exc)})", tracker)) from None
    missing = {r.sop_uid for r in refs} - instances_on_disk(root, study_uid)
    if missing:
        raise TransferFailed(node.name, f"{len(missing)} of {len(refs)} images did not arrive; "
                                        "run the same retrieve again to resume")
    return tracker.result(study_uid, study_folder(root, study_uid))


def _objects(api, request: tuple[str, ...]):
    if len(request) == 1:
        return api.iter_study(request[0], media_types=_AS_STORED)
    if len(request) == 2:
        return api.iter_series(*request, media_types=_AS_STORED)
    return [api.retrieve_instance(*request, media_types=_AS_STORED)]


def _write(root: Path, ds) -> Path:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return write_instance(root, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID,
                          buffer.getvalue())


def _stopped(why: str, tracker: Tracker) -> str:
    return (f"{why} after {tracker.skipped + tracker.received} of {tracker.total} images; what "
            "arrived is kept, run the same retrieve again to resume")


def store_files(node: Node, items: list, batch: int = 16) -> Iterator[tuple[object, str]]:
    """STOW-RS prepared files in batches; yields ``(item, "")`` or ``(item, reason)``."""
    pydicom = load("pydicom")
    api = client(node)
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        with web_errors(node):
            answer = api.store_instances([pydicom.dcmread(i.path) for i in chunk])
        failed = {str(f.get("ReferencedSOPInstanceUID", "")): f.get("FailureReason", "")
                  for f in answer.get("FailedSOPSequence", [])}
        for item in chunk:
            reason = failed.get(item.sop_instance_uid)
            yield item, "" if reason is None else f"refused (failure reason {reason})"
