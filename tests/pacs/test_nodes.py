"""The nodes file, UIDs as file names, and what a resumed retrieve asks for (no network)."""

from __future__ import annotations

import json

import pytest

from medview.pacs.errors import NodeConfigError
from medview.pacs.nodes import (LocalAE, Node, add_node, load_config, nodes_path, remove_node,
                                set_local)
from medview.pacs.query import StudyQuery
from medview.pacs.storage import InstanceRef, missing_requests, valid_uid


def test_nodes_round_trip_through_the_user_folder(isolated):
    add_node(Node("clinic", "PACS", "pacs.local", 104, tls=True))
    add_node(Node("web", url="https://pacs.local/dicom-web", token_env="PACS_TOKEN"))
    set_local(port=11113)
    config = load_config()
    assert nodes_path() == isolated / "user" / "pacs_nodes.json"
    assert config.local == LocalAE("MEDVIEW", 11113)
    assert config.node("clinic").address() == "PACS@pacs.local:104 (TLS)"
    assert config.node("web").is_dicomweb
    remove_node("web")
    with pytest.raises(NodeConfigError, match="'web': no such node \\(configured: clinic\\)"):
        load_config().node("web")


@pytest.mark.parametrize("node, reason", [
    (Node("a b", "PACS", "h", 104), "node name"),
    (Node("n", "A" * 17, "h", 104), "1-16 printable"),
    (Node("n", "A\\B", "h", 104), "1-16 printable"),
    (Node("n", "PACS", "", 104), "no host"),
    (Node("n", "PACS", "h", 70000), "port 70000"),
    (Node("n", url="ftp://x"), "not an http"),
    (Node("n", url="http://x", password_env="P"), "needs a user"),
])
def test_invalid_nodes_say_which_setting_is_wrong(isolated, node, reason):
    with pytest.raises(NodeConfigError, match=reason):
        add_node(node)
    assert not nodes_path().exists()


def test_a_damaged_nodes_file_is_one_line(isolated):
    nodes_path().parent.mkdir(parents=True)
    nodes_path().write_text("{not json")
    with pytest.raises(NodeConfigError, match="pacs_nodes.json: cannot be read"):
        load_config()


def test_unknown_keys_from_a_newer_medview_are_ignored(isolated):
    nodes_path().parent.mkdir(parents=True)
    nodes_path().write_text(json.dumps({"format": 2, "local": {"port": 2000, "new": 1},
                                        "nodes": [{"name": "x", "url": "http://x", "new": 1}]}))
    config = load_config()
    assert config.local.port == 2000 and config.node("x").url == "http://x"


@pytest.mark.parametrize("value, ok", [("1.2.840.10008.1.1", True), ("1.2.3\x00", True),
                                       ("../etc", False), ("1..2", False), ("", False),
                                       ("1." * 40 + "1", False), (None, False)])
def test_only_uids_become_file_names(value, ok):
    assert (valid_uid(value) is not None) is ok


def test_a_resume_asks_only_for_what_is_missing():
    refs = [InstanceRef("s1", "a"), InstanceRef("s1", "b"), InstanceRef("s2", "c"),
            InstanceRef("s2", "d"), InstanceRef("s3", "e")]
    assert missing_requests("st", refs, set()) == [("st",)]
    assert missing_requests("st", refs, {"a", "b", "c", "d", "e"}) == []
    assert missing_requests("st", refs, {"a", "c"}) == [
        ("st", "s1", "b"), ("st", "s2", "d"), ("st", "s3")]


def test_study_query_keys():
    assert StudyQuery().matching_keys("n") == {}
    assert StudyQuery(patient_name="Smith*", date_from="20200101").matching_keys("n") == {
        "PatientName": "Smith*", "StudyDate": "20200101-"}
    assert StudyQuery(date_from="20200101", date_to="20200101").matching_keys("n") == {
        "StudyDate": "20200101"}
    with pytest.raises(NodeConfigError, match="date to '2020-01-01' is not YYYYMMDD"):
        StudyQuery(date_to="2020-01-01").matching_keys("n")


def test_the_store_removes_the_least_recently_retrieved_studies_beyond_its_limit(tmp_path):
    import os

    from medview.pacs.store import prune, stored_studies

    for age, uid in enumerate(["1.1", "1.2", "1.3", "1.4"]):
        path = tmp_path / uid / "9.9" / "1.dcm"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1000 + age, 1000 + age))  # 1.1 retrieved first, 1.4 last
    (tmp_path / "notes").mkdir()  # not a study: never touched
    assert [s.folder.name for s in stored_studies(tmp_path)] == ["1.1", "1.2", "1.3", "1.4"]
    assert prune(tmp_path, 4000) == []
    removed = prune(tmp_path, 2000, keep={"1.1"})
    assert [p.name for p in removed] == ["1.2", "1.3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.1", "1.4", "notes"]
