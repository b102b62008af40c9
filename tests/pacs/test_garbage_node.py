"""A node that answers with garbage (a DIMSE port that speaks nonsense, a DICOMweb server
that returns something other than DICOM JSON) is one line naming the node."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from medview.pacs import client
from medview.pacs.errors import PacsError
from medview.pacs.nodes import LocalAE, Node
from medview.pacs.query import StudyQuery


@pytest.fixture
def garbage_port():
    """A loopback TCP server that answers every connection with random-looking bytes."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"\x02\x00\x00\x00\x00\x04garbage, not an A-ASSOCIATE-AC" * 4)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_a_dimse_node_that_speaks_garbage_is_one_line(garbage_port):
    node = Node("noise", "NOISE", "127.0.0.1", garbage_port, timeout_s=5)
    with pytest.raises(PacsError) as caught:
        client.echo(node, LocalAE())
    assert str(caught.value).startswith(f"PACS node 'noise': NOISE@127.0.0.1:{garbage_port} ")
    assert "\n" not in str(caught.value)


class _NotDicomJson(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = b"<html>this is a login page, not DICOM JSON</html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_dicomweb_node_that_returns_garbage_is_one_line():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotDicomJson)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        node = Node("junk", url=f"http://127.0.0.1:{server.server_port}/dicom-web", timeout_s=5)
        with pytest.raises(PacsError, match="'junk': .* sent a response medview cannot read"):
            client.find_studies(node, LocalAE(), StudyQuery())
    finally:
        server.shutdown()
        server.server_close()
