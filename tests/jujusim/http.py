"""The HTTPS side of a node: archive download (GET with a JSON body) and upload (PUT)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UNAUTHORIZED, RpcError
from .profiles import Generation
from .state import FILENAME_PREFIX, ZERO_TIME, CallRecord, Controller, DownloadFault, User

CHUNK = 256 * 1024
MAX_ARGS_BODY = 1 << 20
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


@dataclass
class HttpRequest:
    method: str
    path: str
    version: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class HttpError(Exception):
    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return method, target, version, headers


async def write_response(
    writer: asyncio.StreamWriter, status: int, content_type: str, body: bytes
) -> None:
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()


async def write_error(writer: asyncio.StreamWriter, err: HttpError) -> None:
    # The backups handler encodes params.Error itself, not wrapped in an "error" field.
    body = json.dumps({"message": err.message, "code": err.code}).encode()
    await write_response(writer, err.status, "application/json", body)


async def body_chunks(request: HttpRequest, limit: int | None = None) -> AsyncIterator[bytes]:
    """The request body as it arrives (Content-Length or chunked)."""
    reader = request.reader
    encoding = request.headers.get("transfer-encoding", "").lower()
    seen = 0
    if "chunked" in encoding:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # trailers are not used: the final CRLF
                return
            left = size
            while left:
                data = await reader.read(min(left, CHUNK))
                if not data:
                    raise asyncio.IncompleteReadError(b"", left)
                left -= len(data)
                seen += len(data)
                if limit is not None and seen > limit:
                    raise HttpError(413, "request body too large")
                yield data
            await reader.readexactly(2)
        return
    length = int(request.headers.get("content-length", "0") or "0")
    if limit is not None and length > limit:
        raise HttpError(413, "request body too large")
    left = length
    while left:
        data = await reader.read(min(left, CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", left)
        left -= len(data)
        yield data


class BackupsEndpoint:
    """/model/<uuid>/backups on one node."""

    def __init__(self, node: int, controller: Controller) -> None:
        self.node = node
        self.ctl = controller

    def violation(self, text: str) -> None:
        self.ctl.violation(f"node {self.node}: {text}")

    async def serve(self, request: HttpRequest, model_uuid: str) -> None:
        try:
            if request.method not in ("GET", "PUT"):
                raise HttpError(
                    405, f'unsupported method: "{request.method}"', "method not allowed"
                )
            if model_uuid not in self.ctl.models:
                raise HttpError(404, f'unknown model: "{model_uuid}"', "model not found")
            self._authenticate(request)
            if request.method == "GET":
                await self._download(request)
            else:
                await self._upload(request)
        except HttpError as err:
            await write_error(request.writer, err)

    def _authenticate(self, request: HttpRequest) -> User:
        auth = request.headers.get("authorization", "")
        scheme, _, encoded = auth.partition(" ")
        if scheme != "Basic" or not encoded:
            raise HttpError(401, "no credentials provided", UNAUTHORIZED)
        try:
            tag, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise HttpError(401, "invalid request format", UNAUTHORIZED) from None
        kind, _, name = tag.partition("-")
        user = self.ctl.authenticate(name, password) if kind == "user" else None
        if user is None:
            raise HttpError(401, "invalid entity name or password", UNAUTHORIZED)
        if not user.superuser:
            raise HttpError(401, "permission denied", UNAUTHORIZED)
        return user

    # -- download ------------------------------------------------------------------------

    async def _download(self, request: HttpRequest) -> None:
        ctype = request.headers.get("content-type", "")
        body = b"".join([c async for c in body_chunks(request, MAX_ARGS_BODY)])
        if ctype != "application/json":
            self.violation(f"download with Content-Type {ctype!r}, not exactly application/json")
            raise HttpError(500, f'expected Content-Type "application/json", got "{ctype}"')
        try:
            args = json.loads(body)
        except ValueError:
            self.violation(f"download body is not JSON: {body[:200]!r}")
            raise HttpError(500, f"while de-serializing args: {_go_json_error(body)}") from None
        backup_id = args.get("id") if isinstance(args, dict) else None
        if not isinstance(args, dict) or not isinstance(backup_id, str):
            self.violation(f"download args off-schema: {args!r}")
            raise HttpError(
                500,
                "while de-serializing args: json: cannot unmarshal into Go value of type "
                "params.BackupsDownloadArgs",
            )
        if set(args) - {"id"}:
            self.violation(f"download args with unknown fields: {sorted(set(args) - {'id'})}")
        self.ctl.record_call(CallRecord(self.node, "HTTP", 0, "GET backups", {"id": backup_id}))
        path, checksum, one_shot = self._locate(backup_id)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed after the stream below
        except FileNotFoundError:
            raise HttpError(
                500, f"while opening archive file for download: open {path}: no such file"
            ) from None
        with f:
            if one_shot:
                # The file is gone as soon as it is open: an interrupted download loses it.
                path.unlink(missing_ok=True)
                with self.ctl.lock:
                    for key, item in list(self.ctl.pending.items()):
                        if item.path == path:
                            del self.ctl.pending[key]
            await self._stream(request.writer, f, checksum, self.ctl.take_download_fault())

    def _locate(self, backup_id: str) -> tuple[Path, str, bool]:
        """Where the archive named by the download id is, its checksum, whether one-shot."""
        ctl = self.ctl
        if ctl.profile.generation in (Generation.STORED_ONLY, Generation.STORED):
            with ctl.lock:
                found = ctl.store.get(backup_id)
                if found is None:
                    found = next(
                        (
                            a
                            for k, a in ctl.pending.items()
                            if a.node == self.node and backup_id in (k, str(a.path))
                        ),
                        None,
                    )
            if found is None:
                raise HttpError(404, f'backup metadata "{backup_id}" not found', "not found")
            return found.path, str(found.metadata["checksum"]), found.one_shot
        # 2.9.22 on: only an absolute path to a juju-backup file in this machine's backup dir.
        directory = ctl.node_dirs[self.node]
        candidate = Path(backup_id)
        valid = (
            candidate.is_absolute()
            and candidate.name.startswith(FILENAME_PREFIX)
            and candidate.parent == directory
            and candidate.is_file()
        )
        if not valid:
            raise HttpError(500, f'backup file "{backup_id}" not valid', "not valid")
        with ctl.lock:
            checksum = ctl.checksums.get(str(candidate), "")
        return candidate, checksum, True

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        f: Any,
        checksum: str,
        fault: DownloadFault | None,
    ) -> None:
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/octet-stream\r\n"
            f"Digest: SHA={checksum}\r\n"
            "Transfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode())
        size = os.fstat(f.fileno()).st_size
        corrupt_at = size // 2 if fault is not None and fault.corrupt else -1
        limit = fault.truncate_at if fault is not None else None
        rate = fault.bytes_per_second if fault is not None else None
        chunk_size = CHUNK if rate is None else max(1, min(CHUNK, int(rate / 10) or 1))
        sent = 0
        while True:
            data = await asyncio.to_thread(f.read, chunk_size)
            if not data:
                break
            if 0 <= corrupt_at - sent < len(data):
                i = corrupt_at - sent
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
            if limit is not None and sent + len(data) >= limit:
                data = data[: limit - sent]
                if data:
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
                # Cut short: no final chunk, the connection just ends.
                writer.transport.abort()
                return
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            sent += len(data)
            await writer.drain()
            if rate is not None:
                await asyncio.sleep(len(data) / rate)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- upload (2.x) --------------------------------------------------------------------

    async def _upload(self, request: HttpRequest) -> None:
        ctl = self.ctl
        if not ctl.profile.keeps_store:
            raise HttpError(500, "backups upload not supported", "not supported")
        ctype = request.headers.get("content-type", "")
        media, _, rest = ctype.partition(";")
        boundary = ""
        for param in rest.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "boundary":
                boundary = value.strip('"')
        # Juju's httpattachment reader takes any multipart/* type (its own client sends
        # multipart/form-data from httpattachment.NewBody); anything else is refused.
        if not media.strip().lower().startswith("multipart/") or not boundary:
            self.violation(f"upload with Content-Type {ctype!r}")
            raise HttpError(500, f'unexpected media type "{media.strip()}"')
        tmp = ctl.store_dir / f".upload-{uuid.uuid4().hex}.part"
        try:
            meta = await self._read_multipart(request, boundary, tmp)
            self._check_upload_meta(meta)
            backup_id = ctl.add_uploaded(meta, tmp)
        except RpcError as err:
            raise HttpError(500, err.message, err.code) from None
        finally:
            tmp.unlink(missing_ok=True)
        self.ctl.record_call(CallRecord(self.node, "HTTP", 0, "PUT backups", {"id": backup_id}))
        await write_response(
            request.writer, 200, "application/json", json.dumps({"id": backup_id}).encode()
        )

    async def _read_multipart(
        self, request: HttpRequest, boundary: str, archive_path: Path
    ) -> dict[str, Any]:
        parts = MultipartStream(body_chunks(request), boundary.encode())
        headers = await parts.next_part()
        if headers is None or headers.get("content-type") != "application/json":
            got = headers.get("content-type", "") if headers else ""
            self.violation(f"upload's first part is {got!r}, not application/json")
            raise HttpError(500, f'unexpected part media type "{got}"')
        chunks: list[bytes] = []
        await parts.read_body(chunks.append, limit=MAX_ARGS_BODY)
        try:
            meta = json.loads(b"".join(chunks))
        except ValueError:
            self.violation("upload metadata part is not JSON")
            raise HttpError(500, "invalid character in metadata") from None
        if not isinstance(meta, dict):
            self.violation(f"upload metadata is not an object: {meta!r}")
            raise HttpError(500, "json: cannot unmarshal into params.BackupsMetadataResult")
        headers = await parts.next_part()
        got = headers.get("content-type", "") if headers else ""
        if got != "application/octet-stream":
            self.violation(f"upload's second part is {got!r}, not application/octet-stream")
            raise HttpError(500, f'unexpected content type for attachment "{got}"')
        with open(archive_path, "wb") as out:
            await parts.read_body(out.write)
        return meta

    def _check_upload_meta(self, meta: dict[str, Any]) -> None:
        version = max(self.ctl.profile.backups_versions)
        schema = self.ctl.profile.schema("Backups", version)
        # The metadata part is a params.BackupsMetadataResult: check it as a request.
        for problem in schema.check_value("BackupsMetadataResult", meta):
            self.violation(f"upload metadata off-schema: {problem.text}")
            if problem.rejected:
                raise HttpError(500, problem.go_error)
        if meta.get("id"):
            raise HttpError(500, "got unexpected metadata ID")
        if meta.get("stored") not in (None, "", ZERO_TIME):
            raise HttpError(500, 'got unexpected metadata "Stored" value')


class MultipartStream:
    """A streaming reader of a multipart body: parts' headers, then their bytes, in order."""

    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._delimiter = b"\r\n--" + boundary
        self._started = False
        self._done = False

    async def _fill(self) -> bool:
        try:
            self._buffer += await anext(self._chunks)
        except StopAsyncIteration:
            return False
        return True

    async def _read_until(
        self, marker: bytes, sink: Callable[[bytes], Any] | None, limit: int | None = None
    ) -> None:
        seen = 0
        while True:
            at = self._buffer.find(marker)
            if at >= 0:
                if sink is not None:
                    await _maybe_await(sink(self._buffer[:at]))
                self._buffer = self._buffer[at + len(marker) :]
                return
            keep = len(marker) - 1
            if len(self._buffer) > keep:
                out, self._buffer = self._buffer[:-keep], self._buffer[-keep:]
                seen += len(out)
                if limit is not None and seen > limit:
                    raise HttpError(413, "multipart part too large")
                if sink is not None:
                    await _maybe_await(sink(out))
            if not await self._fill():
                raise HttpError(400, "unexpected EOF in multipart body")

    async def next_part(self) -> dict[str, str] | None:
        if self._done:
            return None
        if not self._started:
            # The body starts with the first delimiter (no CRLF before it) or a preamble.
            self._buffer = b"\r\n" + self._buffer
            self._started = True
            await self._read_until(self._delimiter, None)
        while len(self._buffer) < 2 and await self._fill():
            pass
        if self._buffer.startswith(b"--"):
            self._done = True
            return None
        await self._read_until(b"\r\n", None)
        raw: list[bytes] = []
        await self._read_until(b"\r\n\r\n", raw.append)
        _method, _target, _version, headers = parse_head(b"X / HTTP/1.1\r\n" + b"".join(raw))
        return headers

    async def read_body(self, sink: Callable[[bytes], Any], limit: int | None = None) -> None:
        await self._read_until(self._delimiter, sink, limit)


async def _maybe_await(value: Any) -> None:
    if isinstance(value, Awaitable):
        await value


def _go_json_error(body: bytes) -> str:
    """What Go's json.Unmarshal says about a body that is not JSON (roughly)."""
    text = body.strip()
    if not text:
        return "unexpected end of JSON input"
    return f"invalid character {chr(text[0])!r} looking for beginning of value"
