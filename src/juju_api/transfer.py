"""Streaming archive transfers over the controller's HTTPS backups endpoint.

Downloads go to a temporary file beside the target while the SHA-1 is computed; only a
complete, verified archive is renamed into place, so a failure never leaves a partial file.
Memory stays at one chunk whatever the archive's size.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import secrets
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    ChecksumMismatch,
    ConnectionFailed,
    DownloadError,
    ProtocolError,
    UnsupportedByController,
    redact,
)
from .models import BackupMetadata, DownloadResult
from .tls import SERVER_NAME, is_tls_failure, pinned_context, split_endpoint, tls_failure

if TYPE_CHECKING:
    from .connection import Connection

DEFAULT_CHUNK = 1 << 20
ProgressFn = Callable[[int, "int | None"], None]
_ERROR_BODY_LIMIT = 64 << 10
_ZERO_TIME = "0001-01-01T00:00:00Z"


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address whose certificate is checked for the name juju-apiserver.

    ``http.client`` checks the certificate against the host it dials (an IP address here),
    which Juju's certificates do not list; the dialled address and the verified name differ.
    """

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._pinned = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self._pinned.wrap_socket(sock, server_hostname=SERVER_NAME)
        except BaseException:
            sock.close()
            raise


def _basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"user-{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _open(endpoint: str, ca_cert: str, timeout: float) -> _PinnedHTTPSConnection:
    host, port = split_endpoint(endpoint)
    conn = _PinnedHTTPSConnection(host, port, context=pinned_context(ca_cert), timeout=timeout)
    try:
        conn.connect()
    except OSError as e:
        conn.close()
        if is_tls_failure(e):
            raise tls_failure(endpoint, e) from None
        reason = "no answer in time" if isinstance(e, TimeoutError) else e.strerror
        raise ConnectionFailed(f"{endpoint}: {reason or e.__class__.__name__}") from None
    return conn


def _http_error(resp: http.client.HTTPResponse, what: str) -> DownloadError:
    """Build the error for a non-200 answer from its JSON error body (in any of Juju's shapes)."""
    raw = resp.read(_ERROR_BODY_LIMIT)
    message, code = "", ""
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        err: Any = body.get("error", body)  # pyright: ignore[reportUnknownMemberType]
        if isinstance(err, dict):  # {"error": {"message", "code"}} or {"message", "code"}
            message = err.get("message", "")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            code = err.get("code", "")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        elif isinstance(err, str):  # {"error": "...", "error-code": "..."}
            message = err
            code = body.get("error-code", "")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(message, str) or not message:
        message = resp.reason or "error"
    if not isinstance(code, str):
        code = ""
    return DownloadError(
        f"{what} refused (HTTP {resp.status}): {message[:1000]}", status=resp.status, code=code
    )


def _temp_path(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.{secrets.token_hex(6)}.part"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stream_to(
    resp: http.client.HTTPResponse,
    fd: int,
    *,
    chunk_size: int,
    total: int | None,
    limit: int | None,
    progress: ProgressFn | None,
) -> tuple[int, str]:
    """Copy the body into ``fd`` chunk by chunk; return its size and base64 SHA-1."""
    digest = hashlib.sha1()  # noqa: S324 - Juju's checksum format, not a security measure
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    size = 0
    while True:
        try:
            n = resp.readinto(view)
        except http.client.IncompleteRead:
            raise DownloadError(f"the download was cut short after {size} bytes") from None
        except TimeoutError:
            raise DownloadError(f"the download stalled after {size} bytes") from None
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(
                f"the download was cut short after {size} bytes ({e.__class__.__name__})"
            ) from None
        if not n:
            break
        digest.update(view[:n])
        written = 0
        while written < n:
            written += os.write(fd, view[written:n])
        size += n
        if limit is not None and size > limit:
            raise DownloadError(f"the download is larger than the expected {limit} bytes")
        if progress is not None:
            progress(size, total)
    return size, base64.b64encode(digest.digest()).decode("ascii")


def download_backup(
    *,
    endpoint: str,
    ca_cert: str,
    model_uuid: str,
    username: str,
    password: str,
    backup_id: str,
    dest: Path,
    expected_checksum: str | None,
    expected_size: int | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 60.0,
    chunk_size: int = DEFAULT_CHUNK,
) -> DownloadResult:
    """Download a backup archive to ``dest``, verified, atomically.

    ``GET /model/<uuid>/backups`` with Basic auth and the JSON body ``{"id": backup_id}``.
    The bytes go to ``.<dest.name>.<random>.part`` beside ``dest``; size and checksum are
    compared, the file is fsynced and renamed over ``dest``, and the directory is fsynced.
    On any failure the temporary file is removed and ``dest`` is untouched.

    Args:
        endpoint: ``host:port`` of the API server that holds the archive.
        ca_cert: the controller's CA (PEM).
        model_uuid: the controller model's UUID.
        username: plain user name (``user-`` is added for the tag).
        password: the user's password.
        backup_id: the backup id (2.4 to 2.9.21) or the archive's filename (2.9.22 on).
        dest: the final path of the archive.
        expected_checksum: base64 SHA-1 from the metadata; ``None`` skips the comparison.
        expected_size: the size from the metadata; ``None`` skips the comparison.
        progress: called with (bytes so far, total or ``None``) after each chunk.
        timeout: socket timeout, in seconds, for connecting and for each read.
        chunk_size: bytes read and written at a time.

    Returns:
        Where the archive is, its size and its checksum.

    Raises:
        TLSVerificationFailed: the certificate does not match the CA or the name.
        ConnectionFailed: the API server could not be reached.
        DownloadError: an HTTP error (with the controller's message and the status), or the
            stream was cut short or stalled.
        ChecksumMismatch: the bytes do not match ``expected_checksum``.
    """
    dest = Path(dest)
    body = json.dumps({"id": backup_id}).encode()
    conn = _open(endpoint, ca_cert, timeout)
    tmp: Path | None = None
    try:
        try:
            conn.request(
                "GET",
                f"/model/{model_uuid}/backups",
                body=body,
                headers={
                    "Authorization": _basic_auth(username, password),
                    "Content-Type": "application/json",
                },
            )
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(
                f"{endpoint}: the download request failed ({e.__class__.__name__})"
            ) from None
        if resp.status != 200:
            raise _http_error(resp, "download")
        length = resp.getheader("Content-Length")
        announced = int(length) if length and length.isdigit() else None
        total = announced if announced is not None else expected_size
        tmp = _temp_path(dest)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            limit = expected_size if expected_size is not None else announced
            size, checksum = _stream_to(
                resp, fd, chunk_size=chunk_size, total=total, limit=limit, progress=progress
            )
            os.fsync(fd)
        finally:
            os.close(fd)
        for expected in (expected_size, announced):
            if expected is not None and size != expected:
                raise DownloadError(f"the download was cut short: {size} of {expected} bytes")
        if expected_checksum is not None and checksum != expected_checksum:
            raise ChecksumMismatch(
                f"the downloaded archive's checksum {checksum} does not match the "
                f"controller's {expected_checksum}",
                expected=expected_checksum,
                actual=checksum,
            )
        os.replace(tmp, dest)
        tmp = None
        _fsync_dir(dest.parent)
        return DownloadResult(path=dest, size=size, checksum=checksum)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        conn.close()


# Fields Go's BackupsMetadataResult always marshals on the controllers that take uploads.
_UPLOAD_FIELDS = (
    "id", "checksum", "checksum-format", "size", "stored", "started", "finished", "notes",
    "model", "machine", "hostname", "version", "series", "ca-cert", "ca-private-key",
    "filename",
)  # fmt: skip
_UPLOAD_FIELDS_2_8 = (
    "format-version", "controller-uuid", "controller-machine-id",
    "controller-machine-inst-id", "ha-nodes",
)  # fmt: skip
_INT_FIELDS = frozenset({"size", "format-version", "ha-nodes"})


def upload_metadata(metadata: BackupMetadata, server: tuple[int, int, int]) -> dict[str, Any]:
    """Build the metadata part of an upload as the Go client sends it.

    The id and stored time are emptied (the controller assigns them). Go marshals every
    field, so absent ones get zero values; the CA fields go as empty strings: the
    controller reads its CA from the archive, never from this part.
    """
    wire = metadata.to_wire()
    wire["id"] = ""
    wire["stored"] = _ZERO_TIME
    fields = _UPLOAD_FIELDS + (_UPLOAD_FIELDS_2_8 if server >= (2, 8, 0) else ())
    return {k: wire.get(k, 0 if k in _INT_FIELDS else "") for k in fields}


def _multipart(metadata: Mapping[str, Any], boundary: str) -> tuple[bytes, bytes]:
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="metadata"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(metadata)}\n\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="attached"; filename="juju-backup.tar.gz"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk


def upload_backup(
    conn: Connection,
    archive: Path,
    metadata: BackupMetadata,
    *,
    timeout: float | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> str:
    """Upload an archive to a controller that stores backups (Juju 2.4 to 2.9.21).

    A multipart ``PUT /model/<uuid>/backups``: a JSON ``metadata`` part, then the archive
    streamed from disk (the body's length is computed up front, nothing is held in memory).

    Args:
        conn: a connection to the controller model (its endpoint, CA and user are used).
        archive: the archive file.
        metadata: the archive's metadata (its id and stored time are not sent).
        timeout: socket timeout in seconds; by default the connection's timeout.
        chunk_size: bytes sent at a time.

    Returns:
        The id the controller gave the uploaded backup.

    Raises:
        UnsupportedByController: the controller does not take uploads (nothing is sent).
        DownloadError: the controller refused the upload (with its message and HTTP status)
            or the transfer broke.
        ProtocolError: the answer has no id.
    """
    from .backups import Backups, parse_version  # backups imports this module

    backups = Backups(conn)
    if "upload" not in backups.capabilities:
        raise UnsupportedByController(backups.refusal("upload backups"))
    if not conn.model_uuid:
        raise ValueError("uploading needs a connection to the controller model")
    size = archive.stat().st_size
    boundary = secrets.token_hex(16)
    head, tail = _multipart(
        upload_metadata(metadata, parse_version(conn.server_version)), boundary
    )
    http_conn = _open(conn.endpoint, conn.ca_cert, conn.timeout if timeout is None else timeout)
    try:
        try:
            http_conn.putrequest("PUT", f"/model/{conn.model_uuid}/backups")
            http_conn.putheader("Authorization", _basic_auth(conn.username, conn._password))
            http_conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
            http_conn.putheader("Content-Length", str(len(head) + size + len(tail)))
            http_conn.endheaders()
            http_conn.send(head)
            for chunk in _chunks(archive, chunk_size):
                http_conn.send(chunk)
            http_conn.send(tail)
        except (OSError, http.client.HTTPException) as e:
            # The controller may have refused early (e.g. 401) and closed: read its answer.
            try:
                resp = http_conn.getresponse()
            except (OSError, http.client.HTTPException):
                raise DownloadError(
                    f"{conn.endpoint}: the upload broke off ({e.__class__.__name__})"
                ) from None
        else:
            try:
                resp = http_conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                raise DownloadError(
                    f"{conn.endpoint}: no answer to the upload ({e.__class__.__name__})"
                ) from None
        if resp.status != 200:
            raise _http_error(resp, "upload")
        raw = resp.read(_ERROR_BODY_LIMIT)
        try:
            answer: Any = json.loads(raw)
        except ValueError:
            raise ProtocolError("the upload answer is not valid JSON") from None
        backup_id = answer.get("id") if isinstance(answer, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if not isinstance(backup_id, str) or not backup_id:
            raise ProtocolError("the upload answer has no backup id")
        return redact(backup_id)
    finally:
        http_conn.close()
