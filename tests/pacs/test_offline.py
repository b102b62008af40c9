"""medview stays offline unless a node is configured and named: commands that name no node,
and the GUI's start-up, open no socket and do not even load the network libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.datafiles import find

from tests.helpers.paths import ROOT

# Any connect, listen or datagram send fails and is counted. (Creating an unconnected socket
# is allowed: importing pydicom imports requests, whose urllib3 binds a throw-away socket to
# ::1 at import to learn whether the machine has IPv6; it talks to nothing.)
_NO_SOCKETS = r"""
import json, socket, sys
opened = []
def refuse(self, *args, **kwargs):
    opened.append(args)
    raise OSError("medview opened a connection")
for name in ("connect", "connect_ex", "listen", "sendto"):
    setattr(socket.socket, name, refuse)
from medview.cli import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
if sys.argv[2] == "gui":
    from medview.qt.app import create_app
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings
    app = create_app()
    win = MainWindow(settings=Settings(sys.argv[3]))
    win.show()
    app.processEvents()
    win.close()
print(json.dumps({"codes": codes, "sockets": len(opened),
                  "network_modules": sorted(m for m in ("pynetdicom", "dicomweb_client")
                                            if m in sys.modules)}))
"""


def _run(tmp_path, argvs, gui=False) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEDVIEW_USER_DIR=str(tmp_path / "user"),
               QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", _NO_SOCKETS, json.dumps(argvs),
                          "gui" if gui else "cli", str(tmp_path / "s.ini")],
                         capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_commands_that_name_no_node_open_no_socket(tmp_path):
    result = _run(tmp_path, [
        ["pacs", "list"],
        ["pacs", "add", "clinic", "--aet", "PACS", "--host", "10.0.0.1", "--port", "104"],
        ["pacs", "add", "web", "--dicomweb", "https://pacs.example/dicom-web"],
        ["pacs", "local", "--aet", "MYVIEW", "--port", "11113"],
        ["pacs", "list", "--json"],
        ["pacs", "echo", "not-configured"],
        ["pacs", "remove", "web"],
        ["info", str(find("CT_small.dcm"))],
    ])
    assert result == {"codes": [0, 0, 0, 0, 0, 2, 0, 0], "sockets": 0, "network_modules": []}


def test_a_command_that_names_a_node_does_connect(tmp_path):
    # The check above can fail: naming a configured node reaches for the network.
    result = _run(tmp_path, [["pacs", "add", "clinic", "--aet", "PACS", "--host", "127.0.0.1",
                              "--port", "104"], ["pacs", "echo", "clinic"]])
    assert result["codes"] == [0, 2] and result["sockets"] >= 1


def test_gui_start_up_opens_no_socket(tmp_path):
    result = _run(tmp_path, [["pacs", "add", "clinic", "--aet", "PACS", "--host", "10.0.0.1",
                              "--port", "104"]], gui=True)
    assert result == {"codes": [0], "sockets": 0, "network_modules": []}
