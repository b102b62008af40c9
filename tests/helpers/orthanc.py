"""A real Orthanc for the PACS tests: started on free loopback ports with a configuration
written into the test's folder (storage there too), stopped or killed by the test."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ORTHANC = shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin")
DICOMWEB_PLUGIN = next((p for p in (Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
                                    *Path("/usr/lib/orthanc").glob("libOrthancDicomWeb.so*"))
                        if p.is_file()), None)
AE_TITLE = "ORTHANC"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 made with the openssl command."""
    cert, key = folder / "orthanc.crt", folder / "orthanc.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def _die_with_parent() -> None:
    """In the child (Linux): SIGKILL when the test process dies, so that a crashed test run
    leaves no Orthanc behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    """One Orthanc process and what a test needs to talk to it."""

    folder: Path
    medview_aet: str
    medview_port: int
    dicom_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)
    # more callers Orthanc knows (AE title -> port on 127.0.0.1), e.g. dcmtk's getscu
    callers: dict[str, int] = field(default_factory=dict)
    # DICOM TLS: (certificate, private key) files; the certificate is also the trusted one
    tls: tuple[Path, Path] | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> Orthanc:
        config = {
            "Name": "medview-test", "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "HttpPort": self.http_port, "DicomPort": self.dicom_port, "DicomAet": AE_TITLE,
            "RemoteAccessAllowed": False, "HttpServerEnabled": True,
            "AuthenticationEnabled": bool(self.users), "RegisteredUsers": self.users,
            "DicomCheckCalledAet": True, "DicomAlwaysAllowEcho": True,
            "DicomModalities": {aet.lower(): [aet, "127.0.0.1", port] for aet, port in
                                {self.medview_aet: self.medview_port, **self.callers}.items()},
            "Plugins": [str(DICOMWEB_PLUGIN)] if DICOMWEB_PLUGIN else [],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "SaveJobs": False, "HttpDescribeErrors": True, "ConcurrentJobs": 1,
        }
        if self.tls:
            config.update({"DicomTlsEnabled": True, "DicomTlsCertificate": str(self.tls[0]),
                           "DicomTlsPrivateKey": str(self.tls[1]),
                           "DicomTlsTrustedCertificates": str(self.tls[0]),
                           "DicomTlsRemoteCertificateRequired": False})
        path = self.folder / "orthanc.json"
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=1))
        log = open(self.folder / "orthanc.log", "ab")
        self.process = subprocess.Popen([ORTHANC, str(path)], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Orthanc exited: "
                                   + (self.folder / "orthanc.log").read_text()[-2000:])
            try:
                self.rest("/system")
                with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("Orthanc did not start")

    def rest(self, path: str, data: bytes | None = None):
        request = urllib.request.Request(self.url + path, data=data)
        if self.users:
            import base64

            user, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def upload(self, paths) -> None:
        for p in paths:
            self.rest("/instances", Path(p).read_bytes())

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
