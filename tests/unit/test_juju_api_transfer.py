"""Download and upload logic against a fake HTTP connection (no sockets)."""

from __future__ import annotations

import base64
import email
import hashlib
import http.client
import itertools
import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from juju_api import BackupMetadata, ChecksumMismatch, DownloadError, download_backup, transfer
from juju_api import errors as e

MODEL = "deadbeef-0000-4000-8000-000000000002"


def b64sha1(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324


class FakeResponse:
    """Serves ``body`` through readinto; ``cut_at`` raises IncompleteRead there."""

    def __init__(self, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None,
                 cut_at: int | None = None, reason: str = "OK") -> None:  # fmt: skip
        self.status = status
        self.reason = reason
        self.body = body
        self.pos = 0
        self.cut_at = cut_at
        self.headers = headers or {}
        self.read_sizes: list[int] = []

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def readinto(self, view: memoryview) -> int:
        self.read_sizes.append(len(view))
        if self.cut_at is not None and self.pos >= self.cut_at:
            raise http.client.IncompleteRead(b"", 10)
        end = len(self.body) if self.cut_at is None else self.cut_at
        n = min(len(view), end - self.pos, 1000)  # short reads, like a socket
        view[:n] = self.body[self.pos : self.pos + n]
        self.pos += n
        return n

    def read(self, amt: int | None = None) -> bytes:
        data = self.body[self.pos : self.pos + (amt or len(self.body))]
        self.pos += len(data)
        return data


class FakeHTTP:
    def __init__(self, response: FakeResponse, fail_send_after: int | None = None) -> None:
        self.response = response
        self.requests: list[tuple[str, str, bytes | None, dict[str, str]]] = []
        self.put_headers: dict[str, str] = {}
        self.sent: list[bytes] = []
        self.closed = False
        self.fail_send_after = fail_send_after

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> None:  # fmt: skip
        self.requests.append((method, url, body, dict(headers or {})))

    def putrequest(self, method: str, url: str) -> None:
        self.requests.append((method, url, None, {}))

    def putheader(self, name: str, value: str) -> None:
        self.put_headers[name] = value

    def endheaders(self) -> None:
        pass

    def send(self, data: bytes) -> None:
        if self.fail_send_after is not None and len(self.sent) >= self.fail_send_after:
            raise BrokenPipeError
        self.sent.append(bytes(data))

    def getresponse(self) -> FakeResponse:
        return self.response

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_http(monkeypatch: pytest.MonkeyPatch):
    made: list[FakeHTTP] = []

    def install(response: FakeResponse, **kw: Any) -> list[FakeHTTP]:
        def _open(endpoint: str, ca_cert: str, timeout: float) -> FakeHTTP:
            conn = FakeHTTP(response, **kw)
            made.append(conn)
            return conn

        monkeypatch.setattr(transfer, "_open", _open)
        return made

    return install


def download(tmp_path: Path, **kw: Any):
    args: dict[str, Any] = {
        "endpoint": "10.0.0.1:17070", "ca_cert": "CA", "model_uuid": MODEL,
        "username": "backups", "password": "pw", "backup_id": "/tmp/juju-backup-1.tar.gz",
        "dest": tmp_path / "archive.tar.gz", "expected_checksum": None,
    }  # fmt: skip
    args.update(kw)
    return download_backup(**args)


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_download_writes_verifies_and_renames(tmp_path: Path, fake_http: Any):
    data = bytes(range(256)) * 40000  # ~10 MB, more than several chunks
    made = fake_http(FakeResponse(body=data))
    seen: list[tuple[int, int | None]] = []
    result = download(
        tmp_path, expected_checksum=b64sha1(data), expected_size=len(data),
        progress=lambda n, t: seen.append((n, t)), chunk_size=1 << 16,
    )  # fmt: skip
    assert result.path == tmp_path / "archive.tar.gz"
    assert result.size == len(data)
    assert result.checksum == b64sha1(data)
    assert result.path.read_bytes() == data
    assert leftovers(tmp_path) == ["archive.tar.gz"]
    assert (result.path.stat().st_mode & 0o777) == 0o600
    assert seen[-1] == (len(data), len(data))
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen))
    method, url, body, headers = made[0].requests[0]
    assert (method, url) == ("GET", f"/model/{MODEL}/backups")
    assert json.loads(body or b"") == {"id": "/tmp/juju-backup-1.tar.gz"}
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"user-backups:pw").decode()
    assert made[0].closed
    # Reads go into one fixed-size buffer: memory does not grow with the archive.
    assert set(made[0].response.read_sizes) == {1 << 16}


def test_download_without_expectations_still_reports_the_checksum(tmp_path: Path, fake_http: Any):
    fake_http(FakeResponse(body=b"abc", headers={"Content-Length": "3"}))
    seen: list[tuple[int, int | None]] = []
    result = download(tmp_path, progress=lambda n, t: seen.append((n, t)))
    assert (result.size, result.checksum) == (3, b64sha1(b"abc"))
    assert seen == [(3, 3)]


def test_checksum_mismatch_leaves_nothing(tmp_path: Path, fake_http: Any):
    fake_http(FakeResponse(body=b"corrupted"))
    with pytest.raises(ChecksumMismatch) as exc:
        download(tmp_path, expected_checksum=b64sha1(b"original!"), expected_size=9)
    assert exc.value.expected == b64sha1(b"original!")
    assert exc.value.actual == b64sha1(b"corrupted")
    assert leftovers(tmp_path) == []


def test_short_stream_is_cut_short_and_leaves_nothing(tmp_path: Path, fake_http: Any):
    fake_http(FakeResponse(body=b"x" * 500))
    with pytest.raises(DownloadError, match="cut short: 500 of 1000") as exc:
        download(tmp_path, expected_checksum=b64sha1(b"x" * 1000), expected_size=1000)
    assert not isinstance(exc.value, ChecksumMismatch)
    assert leftovers(tmp_path) == []


def test_incomplete_chunked_stream_leaves_nothing(tmp_path: Path, fake_http: Any):
    fake_http(FakeResponse(body=b"y" * 5000, cut_at=2500))
    with pytest.raises(DownloadError, match="cut short after 2500 bytes"):
        download(tmp_path)
    assert leftovers(tmp_path) == []


def test_stream_longer_than_expected_is_stopped(tmp_path: Path, fake_http: Any):
    response = FakeResponse(body=b"z" * 100_000)
    fake_http(response)
    with pytest.raises(DownloadError, match="larger than the expected 10"):
        download(tmp_path, expected_size=10)
    assert response.pos < 100_000
    assert leftovers(tmp_path) == []


def test_failure_leaves_an_existing_dest_untouched(tmp_path: Path, fake_http: Any):
    dest = tmp_path / "archive.tar.gz"
    dest.write_bytes(b"older archive")
    fake_http(FakeResponse(body=b"new"))
    with pytest.raises(ChecksumMismatch):
        download(tmp_path, expected_checksum="wrong")
    assert dest.read_bytes() == b"older archive"
    assert leftovers(tmp_path) == ["archive.tar.gz"]


def test_a_failing_progress_callback_cleans_up(tmp_path: Path, fake_http: Any):
    fake_http(FakeResponse(body=b"q" * 5000))

    def boom(_n: int, _t: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(tmp_path, progress=boom)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (b'{"message": "backup file \\"x\\" not valid", "code": "not valid"}',
         'backup file "x" not valid', "not valid"),
        (b'{"error": {"message": "no such backup", "code": "not found"}}', "no such backup",
         "not found"),
        (b'{"error": "invalid entity name or password", "error-code": "unauthorized access"}',
         "invalid entity name or password", "unauthorized access"),
        (b"<html>oops</html>", "Not Found", ""),
        (b'{"message": "key -----BEGIN PRIVATE KEY-----\\nAAA\\n-----END PRIVATE KEY-----"}',
         "key [redacted private key]", ""),
    ],
)  # fmt: skip
def test_http_errors_carry_message_and_status(
    tmp_path: Path, fake_http: Any, body: bytes, message: str, code: str
):
    fake_http(FakeResponse(status=404, body=body, reason="Not Found"))
    with pytest.raises(DownloadError) as exc:
        download(tmp_path)
    assert exc.value.status == 404
    assert exc.value.code == code
    assert message in str(exc.value)
    assert "AAA" not in str(exc.value)
    assert leftovers(tmp_path) == []


def test_the_https_connection_verifies_juju_apiserver(monkeypatch: pytest.MonkeyPatch):
    """The socket is dialled at the address but TLS checks the name juju-apiserver."""
    wrapped: list[str | None] = []

    class Ctx:
        verify_mode = ssl.CERT_REQUIRED
        check_hostname = True
        post_handshake_auth = None

        def wrap_socket(self, sock: Any, server_hostname: str | None = None) -> Any:
            wrapped.append(server_hostname)
            return sock

    class Sock:
        def setsockopt(self, *_a: Any) -> None:
            pass

        def close(self) -> None:
            pass

    dialled: list[tuple[str, int]] = []
    monkeypatch.setattr(
        transfer.socket, "create_connection", lambda addr, timeout: dialled.append(addr) or Sock()
    )
    conn = transfer._PinnedHTTPSConnection("127.0.0.1", 17070, context=Ctx(), timeout=1)  # type: ignore[arg-type]
    conn.connect()
    assert dialled == [("127.0.0.1", 17070)]
    assert wrapped == ["juju-apiserver"]


# -- upload ----------------------------------------------------------------------------------


def meta() -> BackupMetadata:
    return BackupMetadata.from_wire(
        {
            "id": "20240101-000000.abc", "checksum": "c",
            "checksum-format": "SHA-1, base64 encoded",
            "size": 11, "stored": "2024-01-01T00:02:00Z", "started": "2024-01-01T00:00:00Z",
            "finished": "2024-01-01T00:01:00Z", "notes": "n", "model": "m", "machine": "0",
            "hostname": "h", "version": "2.8.11", "series": "focal", "filename": "f.tar.gz",
            "ca-private-key": "-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----",
        }
    )  # fmt: skip


def test_upload_metadata_by_release():
    old = transfer.upload_metadata(meta(), (2, 5, 0))
    new = transfer.upload_metadata(meta(), (2, 8, 11))
    assert old["id"] == ""
    assert old["stored"] == "0001-01-01T00:00:00Z"
    assert old["ca-private-key"] == ""
    assert old["ca-cert"] == ""
    assert "ha-nodes" not in old
    assert new["ha-nodes"] == 0
    assert new["controller-uuid"] == ""
    assert new["series"] == "focal"
    assert new["version"] == "2.8.11"
    assert new["size"] == 11
    assert "base" not in new


class UploadConn:
    def __init__(self, server_version: str = "2.8.11", versions: list[int] | None = None) -> None:
        self.server_version = server_version
        self.facades = {"Backups": versions or [1, 2]}
        self.endpoint = "10.0.0.1:17070"
        self.ca_cert = "CA"
        self.username = "backups"
        self._password = "pw"
        self.model_uuid = MODEL
        self.timeout = 5.0

    def best_version(self, facade: str) -> int | None:
        return max(self.facades[facade])


def test_upload_streams_a_multipart_put(tmp_path: Path, fake_http: Any):
    archive = tmp_path / "a.tar.gz"
    data = b"archive-bytes" * 10000
    archive.write_bytes(data)
    made = fake_http(FakeResponse(body=b'{"id": "new-id"}'))
    new_id = transfer.upload_backup(UploadConn(), archive, meta(), chunk_size=4096)  # type: ignore[arg-type]
    assert new_id == "new-id"
    http_conn = made[0]
    assert http_conn.requests[0][:2] == ("PUT", f"/model/{MODEL}/backups")
    body = b"".join(http_conn.sent)
    assert int(http_conn.put_headers["Content-Length"]) == len(body)
    assert max(len(s) for s in http_conn.sent[1:-1]) <= 4096  # streamed, not slurped
    ctype = http_conn.put_headers["Content-Type"]
    assert ctype.startswith("multipart/form-data; boundary=")
    parsed = email.message_from_bytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
    parts: Any = parsed.get_payload()
    assert isinstance(parts, list)
    assert len(parts) == 2
    first, second = parts
    assert first.get_param("name", header="content-disposition") == "metadata"
    assert first.get_content_type() == "application/json"
    sent_meta = json.loads(first.get_payload(decode=True))
    assert sent_meta["id"] == ""
    assert sent_meta["checksum"] == "c"
    assert "X" not in sent_meta["ca-private-key"]
    assert second.get_param("name", header="content-disposition") == "attached"
    assert second.get_filename() == "juju-backup.tar.gz"
    assert second.get_content_type() == "application/octet-stream"
    assert second.get_payload(decode=True) == data
    assert http_conn.put_headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(("server", "versions"), [("2.9.22", [2]), ("3.6.27", [3]),
                                                  ("4.0.14", [3]), ("2.3.4", [1])])  # fmt: skip
def test_upload_is_refused_before_sending(
    tmp_path: Path, fake_http: Any, server: str, versions: list[int]
):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"x")
    made = fake_http(FakeResponse(body=b'{"id": "x"}'))
    with pytest.raises(e.UnsupportedByController, match=f"Juju {server}"):
        transfer.upload_backup(UploadConn(server, versions), archive, meta())  # type: ignore[arg-type]
    assert made == []


def test_upload_refused_by_the_controller(tmp_path: Path, fake_http: Any):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"x" * 100_000)
    body = b'{"message": "invalid entity name or password", "code": "unauthorized access"}'
    fake_http(FakeResponse(status=401, body=body, reason="Unauthorized"), fail_send_after=1)
    with pytest.raises(DownloadError) as exc:
        transfer.upload_backup(UploadConn(), archive, meta(), chunk_size=1000)  # type: ignore[arg-type]
    assert exc.value.status == 401
    assert "invalid entity name or password" in str(exc.value)


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"id": 5}', b"[]"])
def test_upload_answer_without_id(tmp_path: Path, fake_http: Any, body: bytes):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"x")
    fake_http(FakeResponse(body=body))
    with pytest.raises(e.ProtocolError):
        transfer.upload_backup(UploadConn(), archive, meta())  # type: ignore[arg-type]
