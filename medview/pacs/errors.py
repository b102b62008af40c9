"""PACS errors: one line that names the node and says what went wrong."""

from __future__ import annotations

from medview.core.errors import MedviewError


class PacsError(MedviewError):
    """A PACS node could not do what was asked.

    Parameters
    ----------
    node : str
        The node's name as configured (or an ``AE@host:port`` description).
    reason : str
        One line saying why.
    """

    def __init__(self, node: str, reason: str) -> None:
        self.node = node
        self.reason = f"PACS node '{node}': " + " ".join(str(reason).split())
        super().__init__(self.reason)


class NodeUnreachable(PacsError):
    """Nothing answers at the node's address (connection refused, no route, timeout)."""


class AssociationRejected(PacsError):
    """The node answered but refused the association (e.g. an unknown AE title)."""


class TransferFailed(PacsError):
    """The node stopped answering, aborted, or reported failures during a transfer."""


class RetrieveCancelled(PacsError):
    """The user cancelled a retrieve; what arrived stays on disk and can be resumed."""


class NodeConfigError(PacsError):
    """A node's settings are missing or invalid."""
