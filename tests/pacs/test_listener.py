"""medview's storage SCP (``medview listen`` and :class:`StorageListener`): objects land
atomically under the folder; garbage, malformed objects and hostile UIDs do not stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from medview.inference.audit import AuditLog
from medview.pacs.listener import StorageListener
from medview.pacs.nodes import LocalAE, Node
from medview.pacs.send import send_files
from medview.pacs.storage import instances_on_disk
from tests.helpers.pacs import make_study
from tests.helpers.orthanc import free_port

from tests.helpers.paths import ROOT


def _node(port: int, aet: str = "MVTEST") -> Node:
    return Node("listener", aet, "127.0.0.1", port, timeout_s=10)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # the hostile UID, on purpose
def test_listener_stores_objects_and_survives_garbage_and_malformed_objects(tmp_path):
    good = make_study(tmp_path / "src", n=3)
    hostile = pydicom.dcmread(good[0])
    hostile.SOPInstanceUID = hostile.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    hostile.StudyInstanceUID = "../../outside"
    hostile.save_as(tmp_path / "hostile.dcm")
    stored = []
    with StorageListener(tmp_path / "in", "MVTEST", 0, host="127.0.0.1",
                         on_stored=stored.append) as scp:
        with socket.create_connection(("127.0.0.1", scp.port)) as raw:  # not DICOM at all
            raw.sendall(b"\x01\x00\x00\x00\xff\xff" + os.urandom(200))
        with socket.create_connection(("127.0.0.1", scp.port)) as raw:  # a PDU cut short
            raw.sendall(b"\x01\x00\x00\x00\x10\x00\x00\x01")
        outcomes = send_files(_node(scp.port), LocalAE("SENDER", 104),
                              [tmp_path / "hostile.dcm", *good],
                              audit=AuditLog(tmp_path / "audit.jsonl"))
    assert [o.reason for o in outcomes] == ["refused (status 0xA900)", "", "", ""]
    study = pydicom.dcmread(good[0]).StudyInstanceUID
    assert instances_on_disk(tmp_path / "in", study) == {
        pydicom.dcmread(p).SOPInstanceUID for p in good}
    assert sorted(stored) == sorted((tmp_path / "in").rglob("*.dcm"))
    assert not (tmp_path / "outside").exists()
    assert not list((tmp_path / "in").rglob("*.tmp"))
    assert pydicom.dcmread(stored[0]).PixelData == pydicom.dcmread(good[0]).PixelData


def test_listener_refuses_a_caller_that_names_another_ae_title(tmp_path):
    from medview.pacs.client import echo
    from medview.pacs.errors import AssociationRejected

    with StorageListener(tmp_path, "MVTEST", 0, host="127.0.0.1") as scp:
        assert echo(_node(scp.port), LocalAE()) >= 0
        with pytest.raises(AssociationRejected, match="Called AE title not recognised"):
            echo(_node(scp.port, "OTHER"), LocalAE())


def test_a_port_in_use_is_one_line(tmp_path):
    from medview.pacs.errors import NodeUnreachable

    with StorageListener(tmp_path, "MVTEST", 0, host="127.0.0.1") as scp:
        with pytest.raises(NodeUnreachable, match=f"cannot listen on port {scp.port}"):
            StorageListener(tmp_path, "MVTEST", scp.port, host="127.0.0.1")


def test_medview_listen_prints_each_object_received_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEDVIEW_USER_DIR=str(tmp_path / "user"))
    proc = subprocess.Popen([sys.executable, "-m", "medview", "listen", "--aet", "MVTEST",
                             "--port", str(port), "--host", "127.0.0.1", "--out",
                             str(tmp_path / "in")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert "listening as MVTEST on port" in proc.stderr.readline()
        files = make_study(tmp_path / "src", n=2)
        outcomes = send_files(_node(port), LocalAE("SENDER", 104), files,
                              audit=AuditLog(tmp_path / "audit.jsonl"))
        assert all(o.sent for o in outcomes)
        lines = [json.loads(proc.stdout.readline()) for _ in files]
        assert {Path(line["received"]).stem for line in lines} == {
            pydicom.dcmread(p).SOPInstanceUID for p in files}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0
