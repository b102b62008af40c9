"""medview's storage SCP: receives C-STORE pushes (from a modality, a PACS, or a C-MOVE)
and writes each object atomically under a folder.

pynetdicom serves each association on its own thread; a malformed object is refused with
a failure status (:mod:`.receive`) and a broken association only ends that association,
so the listener keeps running.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from medview.core.imports import load
from medview.pacs.errors import NodeUnreachable
from medview.pacs.receive import store_event


class StorageListener:
    """A running storage SCP; use as a context manager or call :meth:`close`.

    Parameters
    ----------
    root : Path
        Received objects go to ``root/<study>/<series>/<SOP>.dcm``.
    ae_title : str
        The AE title callers must address (others are rejected).
    port : int
        TCP port; 0 picks a free one (see :attr:`port`).
    host : str
        Address to listen on ("" for every interface, "127.0.0.1" for this machine only).
    on_stored : callable, optional
        ``on_stored(path)`` after each object is written (on pynetdicom's thread).
    """

    def __init__(self, root: Path, ae_title: str, port: int, host: str = "",
                 on_stored: Callable[[Path], None] | None = None) -> None:
        pynetdicom = load("pynetdicom")
        self.root = Path(root)
        self.ae_title = ae_title
        self._on_stored = on_stored
        ae = pynetdicom.AE(ae_title=ae_title)
        ae.require_called_aet = True
        ae.maximum_pdu_size = 0  # no limit: fewer PDUs for large images
        ae.add_supported_context(pynetdicom.sop_class.Verification)
        for context in pynetdicom.AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, pynetdicom.ALL_TRANSFER_SYNTAXES)
        handlers = [(pynetdicom.evt.EVT_C_STORE, self._handle_store)]
        try:
            self._server = ae.start_server((host, port), block=False, evt_handlers=handlers)
        except OSError as exc:
            raise NodeUnreachable(f"{ae_title}@{host or '*'}:{port}",
                                  f"cannot listen on port {port} ({exc.strerror or exc})") from None
        self.port = self._server.server_address[1]

    def _handle_store(self, event) -> int:
        return store_event(event, self.root, self._on_stored)

    def close(self) -> None:
        """Stop listening; associations in progress are ended."""
        self._server.shutdown()

    def __enter__(self) -> StorageListener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
