"""One TLS listener per controller machine: WebSocket RPC and HTTPS on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from .errors import DropConnection
from .http import BackupsEndpoint, HttpError, HttpRequest, parse_head, write_error, write_response
from .rpc import NodeInfo, Session
from .state import Controller

logger = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
# Answers can be long lists; python-libjuju raises the frame limit to the same size.
MAX_FRAME = 64 << 20
_MODEL_API = re.compile(r"^/model/([0-9a-f-]{36})/api$")
_MODEL_BACKUPS = re.compile(r"^/model/([^/]+)/backups$")


class NodeServer:
    """A controller machine's API server."""

    def __init__(
        self,
        index: int,
        controller: Controller,
        tls: ssl.SSLContext,
        port: int,
        servers: Any,
        drop_all: Any,
    ) -> None:
        self.index = index
        self.controller = controller
        self.tls = tls
        self.requested_port = port
        self.port = 0
        self.info = NodeInfo(index, controller, servers, drop_all)
        self.backups = BackupsEndpoint(index, controller)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, "127.0.0.1", self.requested_port, ssl=self.tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all()
        # Aborted connections end their tasks by themselves; only stragglers are cancelled.
        tasks = list(self._tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _on_connect(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        finished = False
        try:
            await self._serve(reader, writer)
            finished = True
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("jujusim node %d: connection failed", self.index)
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            if finished and not writer.transport.is_closing():
                # drain() returns at the high-water mark, not when the buffer is empty:
                # aborting now would drop the tail of a streamed download. Close as Go's
                # server does, sending everything first; faults and stops still abort.
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                    await asyncio.wait_for(writer.wait_closed(), 10)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            await write_response(writer, 431, "text/plain", b"request header too large\n")
            return
        try:
            method, target, version, headers = parse_head(head[:-4])
        except ValueError:
            await write_response(writer, 400, "text/plain", b"malformed request\n")
            return
        path = target.split("?", 1)[0]
        if path == "/api" or _MODEL_API.match(path):
            model = _MODEL_API.match(path)
            await self._websocket(reader, writer, head, model.group(1) if model else None)
            return
        backups = _MODEL_BACKUPS.match(path)
        if backups:
            request = HttpRequest(method, path, version, headers, reader, writer)
            await self.backups.serve(request, backups.group(1))
            return
        await write_error(writer, HttpError(404, f"{path} not found", "not found"))

    # -- WebSocket RPC -------------------------------------------------------------------

    async def _websocket(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
        model_uuid: str | None,
    ) -> None:
        protocol = ServerProtocol(max_size=MAX_FRAME)
        protocol.receive_data(head)
        events = protocol.events_received()
        request = events[0] if events else None
        if not isinstance(request, Request):
            response = protocol.reject(400, "Failed to open a WebSocket connection.\n")
            protocol.send_response(response)
            await _flush(protocol, writer)
            return
        response = protocol.accept(request)
        protocol.send_response(response)
        await _flush(protocol, writer)
        if response.status_code != 101:
            return
        connection = _RpcConnection(protocol, writer, Session(self.info, model_uuid))
        try:
            await connection.run(reader)
        finally:
            await connection.close()


class _RpcConnection:
    def __init__(self, protocol: ServerProtocol, writer: asyncio.StreamWriter, session: Session):
        self.protocol = protocol
        self.writer = writer
        self.session = session
        self.tasks: set[asyncio.Task[None]] = set()
        self.fragments: list[bytes] | None = None

    async def run(self, reader: asyncio.StreamReader) -> None:
        while True:
            data = await reader.read(65536)
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
            for event in self.protocol.events_received():
                if isinstance(event, Frame):
                    self._on_frame(event)
            await _flush(self.protocol, self.writer)
            if not data or self.protocol.close_expected() or self.writer.is_closing():
                return

    def _on_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT:
            if frame.fin:
                self._on_message(bytes(frame.data))
            else:
                self.fragments = [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT and self.fragments is not None:
            self.fragments.append(bytes(frame.data))
            if frame.fin:
                message, self.fragments = b"".join(self.fragments), None
                self._on_message(message)
        elif frame.opcode is Opcode.BINARY:
            self.session.violation("binary WebSocket frame; the API speaks JSON text frames")
            self.writer.transport.abort()

    def _on_message(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            # Go's codec cannot read the request: the server closes the connection.
            self.session.violation(f"request is not a JSON object: {raw[:200]!r}")
            self.writer.transport.abort()
            return
        request_id = message.get("request-id")
        if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id <= 0:
            # Without a non-zero request-id Juju reads the message in the old CamelCase
            # format, finds no request in it, and answers in that format.
            self.session.violation(
                f"request-id {request_id!r}: must be a positive integer (0 or none switches "
                "Juju to the old CamelCase format)"
            )
            self._send(
                {
                    "RequestId": 0,
                    "Error": 'unknown object type ""',
                    "ErrorCode": "not implemented",
                    "Response": {},
                }
            )
            return
        task = asyncio.get_running_loop().create_task(self._answer(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, message: dict[str, Any]) -> None:
        try:
            answer = await self.session.handle(message)
        except DropConnection:
            self.writer.transport.abort()
            return
        self._send(answer)
        await _flush(self.protocol, self.writer)

    def _send(self, answer: dict[str, Any]) -> None:
        if self.writer.is_closing():
            return
        self.protocol.send_text(json.dumps(answer, separators=(",", ":")).encode())

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _flush(protocol: ServerProtocol, writer: asyncio.StreamWriter) -> None:
    for data in protocol.data_to_send():
        if not data:
            # The protocol asks to half-close; TLS cannot, so the connection ends here.
            writer.transport.abort()
            return
        if not writer.is_closing():
            writer.write(data)
    if not writer.is_closing():
        with contextlib.suppress(ConnectionError):
            await writer.drain()
