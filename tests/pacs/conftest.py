"""Fixtures of the PACS tests: a real Orthanc with a few real files and a generated study,
and medview's nodes file pointing at it (in the test's own user folder). The helpers they
use are in :mod:`tests.helpers.pacs`."""

from __future__ import annotations

import pytest

from tests.helpers.datafiles import find
from tests.helpers.orthanc import ORTHANC, Orthanc, free_port
from tests.helpers.pacs import MEDVIEW_AET, REAL_FILES, configure_nodes, make_study


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    """One Orthanc for the module, holding pydicom's real files and a generated study."""
    if ORTHANC is None:
        pytest.skip("Orthanc is not installed")
    folder = tmp_path_factory.mktemp("orthanc")
    server = Orthanc(folder, MEDVIEW_AET, free_port()).start()
    try:
        server.upload([find(name) for name in REAL_FILES])
        server.upload(make_study(folder / "generated"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def nodes(orthanc, isolated):
    """The nodes file of this test, pointing at the module's Orthanc."""
    return configure_nodes(orthanc)
