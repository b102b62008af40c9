"""``medview pacs add | remove | list | local | echo | find | series | get | send`` and
``medview listen``: the PACS client and storage SCP on the command line (medview.pacs).

Only commands that name a node (or ``listen``) open a socket.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from medview.commands.common import EXIT_OK, CliError
from medview.core.errors import MedviewError


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``pacs`` actions and their arguments to ``parser``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="configure a node (DIMSE address or DICOMweb URL)")
    add.add_argument("name", help="what to call the node (letters, digits, . _ -)")
    add.add_argument("--aet", help="the node's AE title")
    add.add_argument("--host", help="the node's host name or address")
    add.add_argument("--port", type=int, help="the node's DICOM port")
    add.add_argument("--tls", action="store_true", help="DICOM over TLS")
    add.add_argument("--tls-ca", default="", metavar="FILE",
                     help="CA bundle that signs the node's certificate (default: the system's)")
    add.add_argument("--dicomweb", metavar="URL", help="a DICOMweb base URL instead of a "
                                                        "DIMSE address")
    add.add_argument("--user", default="", help="DICOMweb basic authentication user name")
    add.add_argument("--password-env", default="", metavar="VAR",
                     help="environment variable holding the basic-auth password (not stored)")
    add.add_argument("--token-env", default="", metavar="VAR",
                     help="environment variable holding a bearer token (not stored)")
    add.add_argument("--timeout", type=float, default=30.0, metavar="S",
                     help="seconds to wait for the node (default 30)")
    rm = actions.add_parser("remove", help="forget a node")
    rm.add_argument("name")
    ls = actions.add_parser("list", help="configured nodes and medview's own AE title and port")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    local = actions.add_parser("local", help="set medview's own AE title and storage port "
                                             "(the C-MOVE destination), and the size limit of "
                                             "the viewer's study store")
    local.add_argument("--aet", help="medview's AE title (default MEDVIEW)")
    local.add_argument("--port", type=int, help="port medview's storage SCP listens on for "
                                                "C-MOVE (default 11112)")
    local.add_argument("--store-limit-gb", type=float, metavar="GB",
                       help="size of the viewer's store of retrieved studies; the least "
                            "recently retrieved go first (default 20)")
    echo = actions.add_parser("echo", help="check a node answers (C-ECHO or a QIDO-RS query)")
    echo.add_argument("name")
    find = actions.add_parser("find", help="search a node's studies, one JSON line per study")
    find.add_argument("name")
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="", help="wildcards * and ? allowed")
    find.add_argument("--modality", default="", help="e.g. CT (modalities in study)")
    find.add_argument("--accession", default="", help="accession number")
    find.add_argument("--date-from", default="", metavar="YYYYMMDD")
    find.add_argument("--date-to", default="", metavar="YYYYMMDD")
    find.add_argument("--limit", type=int, default=1000, metavar="N",
                      help="stop after N studies (default 1000)")
    series = actions.add_parser("series", help="a study's series, one JSON line each")
    series.add_argument("name")
    series.add_argument("study_uid", metavar="STUDY_UID")
    get = actions.add_parser("get", help="retrieve a study into DIR/<study UID>/<series UID>/; "
                                         "run again to resume a partial study")
    get.add_argument("name")
    get.add_argument("study_uid", metavar="STUDY_UID")
    get.add_argument("--out", required=True, metavar="DIR", help="folder to retrieve into")
    get.add_argument("--move", action="store_true",
                     help="C-MOVE to medview's storage SCP instead of C-GET (the node must "
                          "know medview's AE title, this machine and the port of 'pacs local')")
    send = actions.add_parser("send", help="send DICOM files (C-STORE or STOW-RS); one JSON "
                                           "line per file; each sent object is audited")
    send.add_argument("name")
    send.add_argument("paths", nargs="+", metavar="PATH", help="DICOM files or folders")
    send.add_argument("--anonymize", action="store_true",
                      help="send de-identified copies (PS3.15 basic profile, as 'medview "
                           "anonymize'); the originals are not changed")
    send.add_argument("--patient-name", default=None, help="with --anonymize: the "
                                                           "replacement patient name")
    send.add_argument("--patient-id", default=None, help="with --anonymize: the replacement "
                                                         "patient ID")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; PACS failures become one line naming the node."""
    try:
        return _ACTIONS[args.action](args)
    except MedviewError as err:
        raise CliError(str(err)) from None


def _add(args) -> int:
    from medview.pacs.nodes import Node, add_node

    if args.dicomweb:
        if args.aet or args.host or args.port or args.tls:
            raise CliError("give either --dicomweb URL or --aet/--host/--port, not both")
        node = Node(args.name, url=args.dicomweb.rstrip("/"), user=args.user,
                    password_env=args.password_env, token_env=args.token_env,
                    tls_ca=args.tls_ca, timeout_s=args.timeout)
    else:
        if not (args.aet and args.host and args.port):
            raise CliError("a DIMSE node needs --aet, --host and --port (or give --dicomweb URL)")
        if args.user or args.password_env or args.token_env:
            raise CliError("--user, --password-env and --token-env are for DICOMweb nodes")
        node = Node(args.name, ae_title=args.aet, host=args.host, port=args.port, tls=args.tls,
                    tls_ca=args.tls_ca, timeout_s=args.timeout)
    add_node(node)
    print(f"{node.name}: {node.address()}")
    return EXIT_OK


def _remove(args) -> int:
    from medview.pacs.nodes import remove_node

    remove_node(args.name)
    return EXIT_OK


def _list(args) -> int:
    from dataclasses import asdict

    from medview.pacs.nodes import load_config

    config = load_config()
    if args.json:
        print(json.dumps({"local": asdict(config.local),
                          "nodes": [asdict(n) for n in config.nodes.values()]}, indent=2))
        return EXIT_OK
    _print_local(config.local)
    for node in sorted(config.nodes.values(), key=lambda n: n.name):
        print(f"{node.name}\t{node.address()}")
    return EXIT_OK


def _print_local(local) -> None:
    print(f"medview: AE title {local.ae_title}, storage port {local.port}, study store "
          f"limit {local.store_limit_gb:g} GB")


def _local(args) -> int:
    from medview.pacs.nodes import set_local

    config = set_local(args.aet, args.port, args.store_limit_gb)
    _print_local(config.local)
    return EXIT_OK


def _node(name: str):
    from medview.pacs.nodes import load_config

    config = load_config()
    return config.node(name), config.local


def _echo(args) -> int:
    from medview.pacs.client import echo

    node, local = _node(args.name)
    seconds = echo(node, local)
    print(f"{node.name}: {node.address()} answered in {seconds * 1000:.0f} ms")
    return EXIT_OK


def _find(args) -> int:
    from medview.pacs.client import find_studies
    from medview.pacs.query import StudyQuery

    if args.limit < 1:
        raise CliError("--limit must be 1 or more")
    node, local = _node(args.name)
    query = StudyQuery(patient_id=args.patient_id, patient_name=args.patient_name,
                       modality=args.modality, accession=args.accession,
                       date_from=args.date_from, date_to=args.date_to)
    studies, truncated = find_studies(node, local, query, limit=args.limit)
    _json_lines(studies)
    if truncated:
        print(f"medview: note: {node.name}: more than {args.limit} studies match; these are "
              "the first (narrow the search or raise --limit)", file=sys.stderr)
    return EXIT_OK


def _series(args) -> int:
    from medview.pacs.client import find_series

    node, local = _node(args.name)
    _json_lines(find_series(node, local, args.study_uid))
    return EXIT_OK


def _get(args) -> int:
    from medview.pacs.client import retrieve

    node, local = _node(args.name)
    progress = _progress_printer()
    try:
        result = retrieve(node, local, args.study_uid, Path(args.out), move=args.move,
                          progress=progress)
    finally:
        if progress is not None:
            print(file=sys.stderr)  # end the progress line
    _json_lines([{"StudyInstanceUID": result.study_uid, "folder": str(result.folder),
                  "total": result.total, "already_there": result.skipped,
                  "received": result.received}])
    return EXIT_OK


def _progress_printer() -> Callable | None:
    """Progress on stderr for a person at a terminal; nothing for scripts."""
    if not sys.stderr.isatty():
        return None
    return lambda done, total, _path: print(f"\r{done}/{total} images", end="",
                                            file=sys.stderr, flush=True)


def _send(args) -> int:
    import tempfile

    from medview.pacs.send import send_files

    if (args.patient_name or args.patient_id) and not args.anonymize:
        raise CliError("--patient-name and --patient-id go with --anonymize")
    paths = _expand(args.paths)
    node, local = _node(args.name)
    with tempfile.TemporaryDirectory(prefix="medview-send-") as tmp:
        sources: dict[Path, Path] = {}
        if args.anonymize:
            paths, sources = _anonymized_copies(paths, Path(tmp), args)
        outcomes = send_files(
            node, local, paths,
            on_outcome=lambda o: _json_lines([{
                "file": str(sources.get(o.path, o.path)), "SOPInstanceUID": o.sop_instance_uid,
                **({"anonymized": True} if o.path in sources else {}),
                "result": o.reason or "stored"}]),
            audit_fields=lambda p: ({"file": str(sources[p]), "anonymized": True}
                                    if p in sources else {}))
    failed = [o for o in outcomes if not o.sent]
    if failed:
        raise CliError(f"{node.name}: {len(failed)} of {len(outcomes)} files were not stored "
                       f"(first: {failed[0].path}: {failed[0].reason})")
    return EXIT_OK


def _anonymized_copies(paths: list[Path], folder: Path,
                       args) -> tuple[list[Path], dict[Path, Path]]:
    """De-identified copies of ``paths`` in ``folder`` (one pseudonym run for all), and
    copy → source. Files that cannot be de-identified are listed on stderr and left out."""
    from medview.core.anonymize import Anonymizer, anonymize_path

    anonymizer = Anonymizer.with_pseudonym(args.patient_name, args.patient_id)
    sources: dict[Path, Path] = {}
    for i, path in enumerate(paths):
        report = anonymize_path(path, folder / f"{i:06d}.dcm", anonymizer)
        for skipped, reason in report.skipped:
            print(f"medview: {skipped}: not sent: {reason}", file=sys.stderr)
        for warning in report.warnings:
            print(f"medview: warning: {warning}", file=sys.stderr)
        sources.update({written: path for written in report.written})
    return list(sources), sources


def _expand(paths: list[str]) -> list[Path]:
    out = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise CliError(f"{path}: file not found")
    return out


def _json_lines(rows: list[dict]) -> None:
    for row in rows:
        print(json.dumps(row, ensure_ascii=False), flush=True)


_ACTIONS = {"add": _add, "remove": _remove, "list": _list, "local": _local, "echo": _echo,
            "find": _find, "series": _series, "get": _get, "send": _send}


# -- listen ------------------------------------------------------------------------

def configure_listen(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aet", default=None, help="AE title senders call (default: medview's, "
                                               "see 'pacs local')")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: medview's "
                                                          "storage port)")
    p.add_argument("--host", default="", help="address to listen on (default: all; "
                                              "127.0.0.1 for this machine only)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="received objects go to DIR/<study UID>/<series UID>/<SOP UID>.dcm")


def run_listen(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Receive until Ctrl+C or SIGTERM (or ``stop`` is set); one JSON line per object."""
    from medview.pacs.listener import StorageListener
    from medview.pacs.nodes import LocalAE, load_config

    try:
        local = load_config().local
        local = LocalAE(args.aet or local.ae_title, args.port or local.port).validated()
        stop = stop or _stop_on_signals()
        with StorageListener(Path(args.out), local.ae_title, local.port, host=args.host,
                             on_stored=lambda path: _json_lines([{"received": str(path)}])) as scp:
            print(f"medview: listening as {local.ae_title} on port {scp.port}; Ctrl+C stops",
                  file=sys.stderr, flush=True)
            stop.wait()
    except MedviewError as err:
        raise CliError(str(err)) from None
    return EXIT_OK


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    return stop
