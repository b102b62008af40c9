"""medview's PACS client against a real Orthanc on loopback: echo, find, C-GET, C-MOVE into
medview's storage SCP, WADO-RS, C-STORE and STOW-RS back, refused associations, and a
retrieve cut off by Orthanc dying, then resumed."""

from __future__ import annotations

import json
import shutil
import threading

import pydicom
import pytest

from medview.cli import main
from medview.inference.audit import AuditLog
from medview.pacs import client
from medview.pacs.errors import RetrieveCancelled, TransferFailed
from medview.pacs.nodes import load_config
from medview.pacs.storage import instances_on_disk
from tests.helpers.datafiles import find
from tests.helpers.pacs import (MEDVIEW_AET, REAL_FILES, configure_nodes, make_study,
                                 needs_dicomweb, needs_orthanc)
from tests.helpers.orthanc import Orthanc, free_port, self_signed_certificate

pytestmark = needs_orthanc
CT = pydicom.dcmread(find("CT_small.dcm"))


def run(capsys, *argv) -> tuple[int, list[dict], str]:
    """``medview ARGV``: exit status, stdout JSON lines, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, lines, err


def test_echo_answers_over_dimse_and_dicomweb(nodes, orthanc, capsys):
    assert main(["pacs", "echo", "orthanc"]) == 0
    assert capsys.readouterr().out.startswith(
        f"orthanc: ORTHANC@127.0.0.1:{orthanc.dicom_port} answered in ")
    assert main(["pacs", "echo", "web"]) == 0
    assert capsys.readouterr().out.startswith(f"web: {orthanc.url}/dicom-web answered in ")


def test_find_prints_one_json_line_per_matching_study(nodes, capsys):
    code, studies, err = run(capsys, "pacs", "find", "orthanc")
    assert code == 0, err
    assert len(studies) == len(REAL_FILES) + 1
    assert CT.StudyInstanceUID in {s["StudyInstanceUID"] for s in studies}
    code, studies, _ = run(capsys, "pacs", "find", "orthanc", "--patient-id", CT.PatientID)
    assert [s["StudyInstanceUID"] for s in studies] == [CT.StudyInstanceUID]
    assert studies[0]["PatientName"] == str(CT.PatientName)
    code, studies, _ = run(capsys, "pacs", "find", "orthanc", "--modality", "MR")
    assert {s["ModalitiesInStudy"] for s in studies} == {"MR"}
    code, studies, _ = run(capsys, "pacs", "find", "orthanc", "--patient-name", "Resume*")
    assert len(studies) == 1 and studies[0]["NumberOfStudyRelatedInstances"] == 6


def test_find_stops_at_the_limit_and_says_so(nodes, capsys):
    code, studies, err = run(capsys, "pacs", "find", "orthanc", "--limit", "2")
    assert code == 0 and len(studies) == 2
    assert "more than 2 studies match" in err


@needs_dicomweb
def test_qido_finds_the_same_studies_as_c_find(nodes):
    config = load_config()
    by_dimse, _ = client.find_studies(config.node("orthanc"), config.local,
                                      client.StudyQuery(patient_id="MV-PACS-1"))
    by_web, _ = client.find_studies(config.node("web"), config.local,
                                    client.StudyQuery(patient_id="MV-PACS-1"))
    assert by_web == by_dimse and len(by_web) == 1
    series = client.find_series(config.node("web"), config.local,
                                by_web[0]["StudyInstanceUID"])
    assert len(series) == 2 and {s["NumberOfSeriesRelatedInstances"] for s in series} == {3}


def _study_uid(orthanc) -> str:
    return orthanc.rest("/tools/find", json.dumps({"Level": "Study", "Query": {
        "PatientID": "MV-PACS-1"}, "Expand": True}).encode())[0]["MainDicomTags"][
        "StudyInstanceUID"]


def _assert_same_as_sent(folder, names=None) -> None:
    """Each retrieved file's pixels equal the original's (CT_small copies)."""
    files = sorted(folder.rglob("*.dcm"))
    assert files
    for path in files:
        ds = pydicom.dcmread(path)
        assert ds.PixelData == CT.PixelData and ds.file_meta.TransferSyntaxUID


@pytest.mark.parametrize("how", ["c-get", "c-move"])
def test_get_retrieves_a_study_then_a_second_get_has_nothing_to_fetch(nodes, orthanc, tmp_path,
                                                                      capsys, how):
    study = _study_uid(orthanc)
    argv = ["pacs", "get", "orthanc", study, "--out", str(tmp_path / "in")]
    argv += ["--move"] if how == "c-move" else []
    code, lines, err = run(capsys, *argv)
    assert code == 0, err
    assert lines == [{"StudyInstanceUID": study, "folder": str(tmp_path / "in" / study),
                      "total": 6, "already_there": 0, "received": 6}]
    assert len({p.parent for p in (tmp_path / "in" / study).rglob("*.dcm")}) == 2  # series
    _assert_same_as_sent(tmp_path / "in" / study)
    code, lines, _ = run(capsys, *argv)
    assert code == 0 and lines[0]["already_there"] == 6 and lines[0]["received"] == 0


def test_c_get_keeps_a_compressed_object_as_stored(nodes, tmp_path):
    original = pydicom.dcmread(find("JPEG2000.dcm"))
    config = load_config()
    result = client.retrieve(config.node("orthanc"), config.local, original.StudyInstanceUID,
                             tmp_path)
    (path,) = result.folder.rglob("*.dcm")
    got = pydicom.dcmread(path)
    assert got.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert got.PixelData == original.PixelData


@needs_dicomweb
def test_wado_rs_retrieves_and_resumes(nodes, orthanc, tmp_path):
    config = load_config()
    study, web = _study_uid(orthanc), config.node("web")
    seen = []
    result = client.retrieve(web, config.local, study, tmp_path,
                             progress=lambda done, total, path: seen.append((done, total)))
    assert (result.total, result.received) == (6, 6) and seen[-1] == (6, 6)
    _assert_same_as_sent(result.folder)
    # Lose two objects of one series: the next retrieve asks for exactly those.
    lost = sorted(result.folder.rglob("*.dcm"))[:2]
    for path in lost:
        path.unlink()
    again = client.retrieve(web, config.local, study, tmp_path)
    assert (again.skipped, again.received) == (4, 2)
    assert {p.stem for p in lost} <= instances_on_disk(tmp_path, study)


def test_cancel_stops_a_retrieve_and_keeps_what_arrived(nodes, orthanc, tmp_path):
    config = load_config()
    study, cancel = _study_uid(orthanc), threading.Event()
    with pytest.raises(RetrieveCancelled, match="orthanc.*cancelled.*resume"):
        client.retrieve(config.node("orthanc"), config.local, study, tmp_path, cancel=cancel,
                        progress=lambda done, total, path: cancel.set())
    kept = len(instances_on_disk(tmp_path, study))
    assert 1 <= kept < 6
    result = client.retrieve(config.node("orthanc"), config.local, study, tmp_path)
    assert (result.skipped, result.received) == (kept, 6 - kept)


@pytest.mark.parametrize("node", ["orthanc", pytest.param("web", marks=needs_dicomweb)])
def test_send_stores_objects_that_read_back_the_same_and_audits_them(nodes, orthanc, tmp_path,
                                                                     capsys, node):
    sent = make_study(tmp_path / "new", n=2, patient_id=f"MV-SENT-{node}")
    code, lines, err = run(capsys, "pacs", "send", node, str(tmp_path / "new"))
    assert code == 0, err
    assert [line["result"] for line in lines] == ["stored", "stored"]
    stored = orthanc.rest("/tools/find", json.dumps({"Level": "Instance", "Query": {
        "PatientID": f"MV-SENT-{node}"}}).encode())
    assert len(stored) == 2
    back = pydicom.dcmread(__import__("io").BytesIO(
        _raw(orthanc, f"/instances/{stored[0]}/file")))
    assert back.PixelData == CT.PixelData
    audit = [e for e in AuditLog().read() if e.get("event") == "pacs-send"]
    assert {e["sop_instance_uid"] for e in audit} == {
        pydicom.dcmread(p).SOPInstanceUID for p in sent}
    assert {e["node"] for e in audit} == {node} and {e["result"] for e in audit} == {"stored"}


def _raw(orthanc, path: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(orthanc.url + path, timeout=10) as response:
        return response.read()


def test_send_reports_a_file_that_is_not_dicom_and_fails(nodes, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not DICOM")
    code, lines, err = run(capsys, "pacs", "send", "orthanc", str(tmp_path / "notes.txt"))
    assert code == 2 and "1 of 1 files were not stored" in err and len(err.splitlines()) == 1
    assert "not a DICOM file" in lines[0]["result"]


def test_wrong_called_ae_title_is_one_line_naming_the_node(nodes, capsys):
    main(["pacs", "add", "wrong", "--aet", "NOT_ORTHANC", "--host", "127.0.0.1", "--port",
          str(nodes.nodes["orthanc"].port)])
    capsys.readouterr()
    code, _, err = run(capsys, "pacs", "echo", "wrong")
    assert code == 2
    assert err.strip() == ("medview: PACS node 'wrong': NOT_ORTHANC@127.0.0.1:"
                           f"{nodes.nodes['orthanc'].port} refused the association: Called AE "
                           "title not recognised (is the node's AE title 'NOT_ORTHANC' right?)")


def test_unknown_calling_ae_cannot_query(orthanc, isolated, capsys):
    configure_nodes(orthanc)
    main(["pacs", "local", "--aet", "STRANGER"])
    capsys.readouterr()
    code, _, err = run(capsys, "pacs", "find", "orthanc")
    assert code == 2 and len(err.splitlines()) == 1 and "PACS node 'orthanc'" in err
    assert "Traceback" not in err


def test_a_node_that_is_down_is_one_line(isolated, capsys):
    port = free_port()
    main(["pacs", "add", "down", "--aet", "X", "--host", "127.0.0.1", "--port", str(port)])
    main(["pacs", "add", "downweb", "--dicomweb", f"http://127.0.0.1:{port}/dicom-web"])
    capsys.readouterr()
    for name in ("down", "downweb"):
        code, _, err = run(capsys, "pacs", "find", name)
        assert code == 2 and len(err.splitlines()) == 1
        assert f"PACS node '{name}'" in err and "127.0.0.1" in err


def test_orthanc_killed_mid_retrieve_keeps_the_partial_study_and_a_second_get_resumes(
        isolated, tmp_path, capsys):
    server = Orthanc(tmp_path / "orthanc", MEDVIEW_AET, free_port()).start()
    try:
        sent = make_study(tmp_path / "study", n=6)
        server.upload(sent)
        config = configure_nodes(server)
        study = pydicom.dcmread(sent[0]).StudyInstanceUID
        node = config.node("orthanc")

        def kill_after_two(done, total, path):
            if done == 2:
                server.kill()

        with pytest.raises(TransferFailed, match="orthanc.*resume"):
            client.retrieve(node, config.local, study, tmp_path / "in", progress=kill_after_two)
        kept = instances_on_disk(tmp_path / "in", study)
        assert 2 <= len(kept) < 6
        code, _, err = run(capsys, "pacs", "get", "orthanc", study, "--out", str(tmp_path / "in"))
        assert code == 2 and "PACS node 'orthanc'" in err and len(err.splitlines()) == 1
        server.start()
        code, lines, err = run(capsys, "pacs", "get", "orthanc", study, "--out",
                               str(tmp_path / "in"))
        assert code == 0, err
        assert lines[0]["already_there"] == len(kept) and lines[0]["received"] == 6 - len(kept)
        assert instances_on_disk(tmp_path / "in", study) == {
            pydicom.dcmread(p).SOPInstanceUID for p in sent}
    finally:
        server.stop()


@needs_dicomweb
def test_dicomweb_basic_auth_reads_the_password_from_the_environment(isolated, tmp_path,
                                                                     capsys, monkeypatch):
    server = Orthanc(tmp_path / "orthanc", MEDVIEW_AET, free_port(),
                     users={"alice": "s3cret"}).start()
    try:
        url = server.url + "/dicom-web"
        main(["pacs", "add", "web", "--dicomweb", url, "--user", "alice",
              "--password-env", "MV_PACS_PASSWORD"])
        assert "s3cret" not in (isolated / "user" / "pacs_nodes.json").read_text()
        capsys.readouterr()
        code, _, err = run(capsys, "pacs", "echo", "web")
        assert code == 2 and "MV_PACS_PASSWORD, which is not set" in err
        monkeypatch.setenv("MV_PACS_PASSWORD", "wrong")
        code, _, err = run(capsys, "pacs", "echo", "web")
        assert code == 2 and "refused the credentials (HTTP 401)" in err
        monkeypatch.setenv("MV_PACS_PASSWORD", "s3cret")
        assert run(capsys, "pacs", "echo", "web")[0] == 0
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_dicom_tls_with_the_node_certificate_and_without(isolated, tmp_path, capsys):
    cert, key = self_signed_certificate(tmp_path)
    server = Orthanc(tmp_path / "orthanc", MEDVIEW_AET, free_port(), tls=(cert, key)).start()
    try:
        server.upload([find("CT_small.dcm")])
        port = str(server.dicom_port)
        main(["pacs", "add", "secure", "--aet", "ORTHANC", "--host", "127.0.0.1", "--port", port,
              "--tls", "--tls-ca", str(cert)])
        main(["pacs", "add", "plain", "--aet", "ORTHANC", "--host", "127.0.0.1", "--port", port])
        main(["pacs", "add", "unverified", "--aet", "ORTHANC", "--host", "127.0.0.1", "--port",
              port, "--tls"])
        capsys.readouterr()
        code, studies, err = run(capsys, "pacs", "find", "secure")
        assert code == 0, err
        assert [s["StudyInstanceUID"] for s in studies] == [CT.StudyInstanceUID]
        code, _, err = run(capsys, "pacs", "echo", "plain")
        assert code == 2 and "is TLS set the same on both sides?" in err
        code, _, err = run(capsys, "pacs", "echo", "unverified")
        assert code == 2 and err.strip().endswith("failed (self-signed certificate)")
    finally:
        server.stop()


def test_send_anonymized_stores_only_the_pseudonym_and_audits_the_source(nodes, orthanc,
                                                                         tmp_path, capsys):
    (source,) = make_study(tmp_path / "src", n=1, patient_id="MV-IDENTIFIABLE")
    code, lines, err = run(capsys, "pacs", "send", "orthanc", str(source), "--anonymize",
                           "--patient-id", "PSEUDO-7", "--patient-name", "Anon^Seven")
    assert code == 0, err
    assert lines[0]["file"] == str(source) and lines[0]["anonymized"] is True
    assert lines[0]["SOPInstanceUID"] != pydicom.dcmread(source).SOPInstanceUID
    query = {"Level": "Instance", "Expand": True}
    found = orthanc.rest("/tools/find", json.dumps({**query, "Query": {
        "SOPInstanceUID": lines[0]["SOPInstanceUID"]}}).encode())
    assert found and orthanc.rest(f"/instances/{found[0]['ID']}/tags?simplify")[
        "PatientID"] == "PSEUDO-7"
    assert orthanc.rest("/tools/find", json.dumps({**query, "Query": {
        "PatientID": "MV-IDENTIFIABLE"}}).encode()) == []
    (entry,) = [e for e in AuditLog().read() if e.get("event") == "pacs-send"]
    assert entry["file"] == str(source) and entry["anonymized"] is True
    assert entry["sop_instance_uid"] == lines[0]["SOPInstanceUID"]


def test_find_by_a_non_ascii_patient_name(isolated, tmp_path, capsys):
    server = Orthanc(tmp_path / "orthanc", MEDVIEW_AET, free_port()).start()
    try:
        (path,) = make_study(tmp_path / "study", n=1)
        ds = pydicom.dcmread(path)
        ds.SpecificCharacterSet, ds.PatientName = "ISO_IR 192", "Müller^Jürgen"
        ds.save_as(path)
        server.upload([path])
        configure_nodes(server)
        code, studies, err = run(capsys, "pacs", "find", "orthanc", "--patient-name", "Müller*")
        assert code == 0, err
        assert [s["PatientName"] for s in studies] == ["Müller^Jürgen"]
    finally:
        server.stop()
