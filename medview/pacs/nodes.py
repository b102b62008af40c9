"""Configured PACS nodes and medview's own AE title and port, kept in the user data folder.

One JSON file, ``<user data dir>/pacs_nodes.json``, written atomically; the CLI and the
GUI read and write the same file. Secrets are never stored: a DICOMweb node names the
*environment variable* that holds its password or bearer token.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlparse

from medview.core.atomic import write_text
from medview.core.user_dirs import user_data_dir
from medview.pacs.errors import NodeConfigError

NODES_NAME = "pacs_nodes.json"
NODES_FORMAT = 1
DEFAULT_AE_TITLE = "MEDVIEW"
DEFAULT_PORT = 11112
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_STORE_LIMIT_GB = 20.0

# PS3.5 6.2: AE titles are up to 16 characters of the default repertoire, no backslash.
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Node:
    """A PACS node: DIMSE (``ae_title``, ``host``, ``port``) or DICOMweb (``url``).

    Parameters
    ----------
    name : str
        What the user calls it (letters, digits, ``._-``).
    ae_title, host, port : str, str, int
        The node's DIMSE address; ``tls`` wraps the association in TLS, verified against
        ``tls_ca`` (a CA bundle file) or the system's CAs.
    url : str
        A DICOMweb base URL (e.g. ``http://pacs:8042/dicom-web``) instead of a DIMSE address.
    user, password_env : str
        HTTP basic authentication: the user name, and the environment variable holding
        the password.
    token_env : str
        The environment variable holding a bearer token.
    timeout_s : float
        How long to wait for the node to connect or answer.
    """

    name: str
    ae_title: str = ""
    host: str = ""
    port: int = 0
    tls: bool = False
    tls_ca: str = ""
    url: str = ""
    user: str = ""
    password_env: str = ""
    token_env: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def is_dicomweb(self) -> bool:
        return bool(self.url)

    def address(self) -> str:
        """``AE@host:port`` or the URL, for messages and listings."""
        if self.is_dicomweb:
            return self.url
        return f"{self.ae_title}@{self.host}:{self.port}" + (" (TLS)" if self.tls else "")

    def validated(self) -> Node:
        """This node, or :class:`NodeConfigError` saying which setting is wrong."""
        if not _NAME.match(self.name):
            raise NodeConfigError(self.name, "a node name is letters, digits, '.', '_' or '-'")
        if self.is_dicomweb:
            parsed = urlparse(self.url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise NodeConfigError(self.name, f"not an http(s) URL: {self.url}")
            if self.password_env and not self.user:
                raise NodeConfigError(self.name, "a password needs a user name")
            return self
        if not _AE_TITLE.match(self.ae_title) or not self.ae_title.strip():
            raise NodeConfigError(self.name, f"AE title {self.ae_title!r} is not 1-16 "
                                             "printable characters")
        if not self.host:
            raise NodeConfigError(self.name, "no host given")
        check_port(self.name, self.port)
        if not self.timeout_s > 0:
            raise NodeConfigError(self.name, "the timeout must be more than 0 s")
        return self


@dataclass(frozen=True)
class LocalAE:
    """medview's own side: the AE title it calls with, the port its storage SCP listens on
    for C-MOVE (the PACS must know this AE title, host and port), and the size limit of
    the study store the viewer retrieves into (:mod:`medview.pacs.store`)."""

    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    store_limit_gb: float = DEFAULT_STORE_LIMIT_GB

    def validated(self) -> LocalAE:
        if not _AE_TITLE.match(self.ae_title) or not self.ae_title.strip():
            raise NodeConfigError("local", f"AE title {self.ae_title!r} is not 1-16 "
                                           "printable characters")
        check_port("local", self.port)
        if not self.store_limit_gb > 0:
            raise NodeConfigError("local", "the study store limit must be more than 0 GB")
        return self


@dataclass
class PacsConfig:
    """Everything in the nodes file."""

    local: LocalAE = field(default_factory=LocalAE)
    nodes: dict[str, Node] = field(default_factory=dict)

    def node(self, name: str) -> Node:
        """The node called ``name``, or an error listing the configured ones."""
        try:
            return self.nodes[name]
        except KeyError:
            known = ", ".join(sorted(self.nodes)) or "none; add one with 'medview pacs add'"
            raise NodeConfigError(name, f"no such node (configured: {known})") from None


def check_port(name: str, port: int) -> None:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise NodeConfigError(name, f"port {port!r} is not 1-65535")


def nodes_path() -> Path:
    return user_data_dir() / NODES_NAME


def load_config(path: Path | None = None) -> PacsConfig:
    """The nodes file's contents (defaults when there is no file yet)."""
    path = path or nodes_path()
    if not path.is_file():
        return PacsConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        local = LocalAE(**_known(LocalAE, raw.get("local", {})))
        nodes = {n["name"]: Node(**_known(Node, n)) for n in raw.get("nodes", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise NodeConfigError("settings", f"{path}: cannot be read ({exc})") from None
    return PacsConfig(local=local, nodes=nodes)


def save_config(config: PacsConfig, path: Path | None = None) -> None:
    """Write the nodes file atomically."""
    doc = {"format": NODES_FORMAT, "local": asdict(config.local),
           "nodes": [asdict(n) for n in sorted(config.nodes.values(), key=lambda n: n.name)]}
    write_text(path or nodes_path(), json.dumps(doc, indent=2) + "\n")


def add_node(node: Node, path: Path | None = None) -> PacsConfig:
    """Add (or replace) ``node`` in the nodes file; returns the new configuration."""
    config = load_config(path)
    config.nodes[node.name] = node.validated()
    save_config(config, path)
    return config


def remove_node(name: str, path: Path | None = None) -> PacsConfig:
    config = load_config(path)
    config.node(name)
    del config.nodes[name]
    save_config(config, path)
    return config


def set_local(ae_title: str | None = None, port: int | None = None,
              store_limit_gb: float | None = None, path: Path | None = None) -> PacsConfig:
    """Change medview's own AE title, storage port and/or study store limit."""
    config = load_config(path)
    changes = {k: v for k, v in (("ae_title", ae_title), ("port", port),
                                 ("store_limit_gb", store_limit_gb)) if v is not None}
    config.local = replace(config.local, **changes).validated()
    save_config(config, path)
    return config


def _known(cls, raw: dict) -> dict:
    """Fields of ``cls`` in ``raw`` (a newer medview's extra keys are ignored)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in raw.items() if k in names}
