"""A WebSocket client on the caller's thread: websockets' Sans-I/O protocol over blocking TLS.

websockets' own synchronous client reads the socket in a background thread while the caller
writes to it. With TLS 1.3 the server's post-handshake messages (session tickets, which Go
servers send) reach OpenSSL from that reader while the caller writes, and about one connection
in 150 stalled for good, not even closable. Here one thread does all the I/O, every blocking
step waits at most until a deadline, and the protocol itself (framing, masking, ping answers,
the closing handshake) is websockets' tested Sans-I/O code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import time
from collections import deque
from typing import Any

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI, PayloadTooBig
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from .errors import ConnectionFailed, ProtocolError
from .tls import SERVER_NAME, is_tls_failure, split_endpoint, tls_failure

logger = logging.getLogger(__name__)

# Longest wait for the closing handshake: a close never takes longer than this.
CLOSE_TIMEOUT = 5.0
_RECV_CHUNK = 1 << 16


class _NoFrameLogs(logging.LoggerAdapter):  # pyright: ignore[reportMissingTypeArgument]
    """websockets' logger minus DEBUG, where it writes out frames.

    Login frames carry the password and Juju 2.x Backups answers the CA private key: whatever
    level the charm or a test sets, they never reach a log.
    """

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's name)
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_PROTOCOL_LOGGER = _NoFrameLogs(logging.getLogger("websockets.client"), {})


class WebSocketClosed(ConnectionFailed):
    """The WebSocket is closed: by the server, by a dropped connection, or here.

    Attributes:
        reason: how it ended, e.g. ``"the server closed it (1011 internal error)"``.
    """

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(f"the connection to {endpoint} is closed: {reason}")
        self.reason = reason


class MalformedMessageError(ProtocolError):
    """The server sent something that is not a valid message (bad frame, too big, not JSON).

    Attributes:
        problem: what is wrong, phrased to follow "the answer ...", e.g. ``"is not valid JSON"``.
    """

    def __init__(self, endpoint: str, problem: str) -> None:
        super().__init__(f"a message from {endpoint} {problem}")
        self.problem = problem


class WebSocket:
    """A client WebSocket carrying JSON text messages; all I/O on the calling thread.

    Not thread-safe: one caller at a time (``Connection`` holds a lock around each call).
    Make one with :meth:`open`.
    """

    def __init__(
        self,
        sock: ssl.SSLSocket,
        protocol: ClientProtocol,
        *,
        endpoint: str,
        max_size: int,
        close_timeout: float,
    ) -> None:
        self._sock = sock
        self._protocol = protocol
        self._endpoint = endpoint
        self._max_size = max_size
        self._close_timeout = close_timeout
        self._frames: deque[Frame] = deque()
        self._fragments: list[bytes] | None = None
        self._outbox: deque[bytes] = deque()
        # The error to raise at the next read (a malformed frame: the connection is failed).
        self._pending: ConnectionFailed | ProtocolError | None = None
        # Why the connection is unusable; None while it is open.
        self._ended: str | None = None

    @classmethod
    def open(
        cls,
        endpoint: str,
        path: str,
        ssl_context: ssl.SSLContext,
        open_timeout: float,
        max_size: int,
    ) -> WebSocket:
        """Dial ``endpoint``, do the TLS handshake and the WebSocket upgrade, all in time.

        Args:
            endpoint: ``host:port`` (``[v6]:port`` for IPv6).
            path: the resource, e.g. ``/api`` or ``/model/<uuid>/api``.
            ssl_context: the client context; the server name checked is ``juju-apiserver``.
            open_timeout: seconds for everything up to an open WebSocket.
            max_size: the largest message accepted, in bytes.

        Returns:
            The open WebSocket.

        Raises:
            TLSVerificationFailed: the TLS handshake failed (certificate, name, protocol).
            ConnectionFailed: unreachable, refused, no answer within ``open_timeout``, or the
                upgrade was refused.
        """
        deadline = time.monotonic() + open_timeout
        host, port = split_endpoint(endpoint)
        try:
            sock = socket.create_connection((host, port), timeout=open_timeout)
        except OSError as e:
            raise _open_failure(endpoint, open_timeout, e) from None
        return cls.handshake(
            sock,
            endpoint=endpoint,
            path=path,
            ssl_context=ssl_context,
            open_timeout=open_timeout,
            max_size=max_size,
            deadline=deadline,
        )

    @classmethod
    def handshake(
        cls,
        sock: socket.socket,
        *,
        endpoint: str,
        path: str,
        ssl_context: ssl.SSLContext,
        open_timeout: float,
        max_size: int,
        deadline: float | None = None,
    ) -> WebSocket:
        """Do the TLS handshake and the WebSocket upgrade over a connected socket.

        The socket belongs to the WebSocket from here on; it is closed on any failure.

        Args:
            sock: a connected stream socket.
            endpoint: the ``host:port`` it is connected to (for the Host header and messages).
            path: the resource, e.g. ``/api``.
            ssl_context: the client context; the server name checked is ``juju-apiserver``.
            open_timeout: the time allowed (named in the error message).
            max_size: the largest message accepted, in bytes.
            deadline: ``time.monotonic()`` value to finish by; now + ``open_timeout`` if unset.

        Raises:
            TLSVerificationFailed: the TLS handshake failed.
            ConnectionFailed: dropped, refused or no answer in time.
        """
        if deadline is None:
            deadline = time.monotonic() + open_timeout
        host, port = split_endpoint(endpoint)
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        tls: ssl.SSLSocket | None = None
        try:
            tls = ssl_context.wrap_socket(
                sock, server_hostname=SERVER_NAME, do_handshake_on_connect=False
            )
            _settimeout(tls, deadline)
            tls.do_handshake()
            protocol = ClientProtocol(
                parse_uri(f"wss://{netloc}{path}"), max_size=max_size, logger=_PROTOCOL_LOGGER
            )
            ws = cls(
                tls,
                protocol,
                endpoint=endpoint,
                max_size=max_size,
                close_timeout=min(open_timeout, CLOSE_TIMEOUT),
            )
            protocol.send_request(protocol.connect())
            ws._upgrade(deadline)
        except Exception as e:
            (tls or sock).close()
            raise _open_failure(endpoint, open_timeout, e) from None
        except BaseException:
            (tls or sock).close()
            raise
        logger.debug("WebSocket open to %s over %s", endpoint, ws.tls_version)
        return ws

    @property
    def closed(self) -> bool:
        """Whether the WebSocket can no longer carry messages."""
        return self._ended is not None

    @property
    def tls_version(self) -> str | None:
        """The TLS version in use, e.g. ``"TLSv1.3"`` (``None`` once closed)."""
        return None if self._ended is not None else self._sock.version()

    def send_json(self, obj: Any, deadline: float | None = None) -> None:
        """Send ``obj`` as one JSON text message.

        Args:
            obj: anything ``json.dumps`` takes.
            deadline: ``time.monotonic()`` value by which it must be written; by default the
                close timeout from now (requests are small: the kernel takes them at once).

        Raises:
            WebSocketClosed: the connection is closed, or writing failed or did not finish
                in time (the stream is then cut mid-frame: the connection is closed).
            TimeoutError: the deadline passed before the message was begun; it is not sent.
        """
        self._check_open()
        self._protocol.send_text(json.dumps(obj).encode())
        try:
            self._flush(time.monotonic() + self._close_timeout if deadline is None else deadline)
        except TimeoutError:
            # Not begun, and last in line: a message given up on must never go out late.
            self._outbox.pop()
            raise

    def recv_json(self, deadline: float) -> Any:
        """Wait for the next message until ``deadline`` and return it parsed.

        Pings are answered while waiting. A timeout leaves the connection usable: a partial
        frame stays buffered and the next call goes on from there.

        Args:
            deadline: ``time.monotonic()`` value to give up at.

        Raises:
            TimeoutError: no complete message by the deadline.
            MalformedMessageError: not valid JSON (the connection stays open), or an invalid or
                oversized frame (the connection is then closed).
            WebSocketClosed: the server closed the connection or it dropped.
        """
        data = self._recv_message(deadline)
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError is one
            raise MalformedMessageError(
                self._endpoint, f"is not valid JSON ({len(data)} bytes)"
            ) from None

    def close(self) -> None:
        """Close: the closing handshake if still open, at most the close timeout. Idempotent."""
        if self._ended is not None:
            return
        deadline = time.monotonic() + self._close_timeout
        try:
            if self._protocol.state is State.OPEN:
                self._protocol.send_close(CloseCode.NORMAL_CLOSURE)
                self._flush(deadline)
                # The server answers with its close frame, then ends TCP: wait for both.
                while self._protocol.state is not State.CLOSED:
                    self._pump(deadline)
        except (OSError, ConnectionFailed) as e:
            logger.debug("closing %s: %s", self._endpoint, e.__class__.__name__)
        finally:
            self._end("closed by the client")
            self._ended = "closed by the client"

    # -- internals ---------------------------------------------------------------------------

    def _upgrade(self, deadline: float) -> None:
        self._flush(deadline)
        while True:
            events = self._pump(deadline)
            response = next((ev for ev in events if isinstance(ev, Response)), None)
            self._frames.extend(ev for ev in events if isinstance(ev, Frame))
            if self._protocol.handshake_exc is not None:
                raise self._protocol.handshake_exc
            if response is not None:
                return
            if self._ended is not None:
                raise WebSocketClosed(self._endpoint, self._ended)

    def _recv_message(self, deadline: float) -> bytes:
        while True:
            message = self._next_message()
            if message is not None:
                return message
            if self._pending is not None:
                error, self._pending = self._pending, None
                raise error
            self._check_open()
            self._frames.extend(ev for ev in self._pump(deadline) if isinstance(ev, Frame))
            self._check_parser()

    def _next_message(self) -> bytes | None:
        # The Sans-I/O layer hands over frames; messages split in fragments are joined here.
        while self._frames:
            frame = self._frames.popleft()
            if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY:
                if frame.fin:
                    return bytes(frame.data)
                self._fragments = [bytes(frame.data)]
            elif frame.opcode is Opcode.CONT and self._fragments is not None:
                self._fragments.append(bytes(frame.data))
                if frame.fin:
                    message, self._fragments = b"".join(self._fragments), None
                    return message
        return None

    def _pump(self, deadline: float) -> list[Any]:
        """Read once (until the deadline), feed the protocol, send what it answers."""
        if self._ended is not None:
            raise WebSocketClosed(self._endpoint, self._ended)
        _settimeout(self._sock, deadline)
        try:
            data = self._sock.recv(_RECV_CHUNK)
        except TimeoutError:
            raise
        except OSError as e:
            self._end(f"reading failed ({_describe(e)})")
            if self._protocol.state is State.CONNECTING:
                raise  # mapped by the opening code: a TLS alert is a TLS failure
            raise WebSocketClosed(self._endpoint, self._ended or "") from None
        if data:
            self._protocol.receive_data(data)
        else:
            self._protocol.receive_eof()
        events = self._protocol.events_received()
        # Pongs and the close echo; if the deadline has passed, they go with the next write.
        with contextlib.suppress(TimeoutError):
            self._flush(deadline)
        if not data or self._protocol.state is State.CLOSED:
            self._end(self._close_description())
        return events

    def _flush(self, deadline: float) -> None:
        """Write what the protocol has queued.

        Raises:
            TimeoutError: the deadline passed before the next frame was begun; it stays
                queued, and the stream is still whole.
            WebSocketClosed: writing failed or stopped mid-frame; the connection is closed.
        """
        self._outbox.extend(self._protocol.data_to_send())
        while self._outbox:
            chunk = self._outbox[0]
            if not chunk:
                # The protocol asks to half-close: TLS cannot, and nothing follows anyway.
                self._outbox.clear()
                return
            if time.monotonic() >= deadline:
                raise TimeoutError
            self._send_all(chunk, deadline)
            self._outbox.popleft()

    def _send_all(self, chunk: bytes, deadline: float) -> None:
        view = memoryview(chunk)
        try:
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and len(view) < len(chunk):
                    raise TimeoutError
                # Once a frame is begun it gets at least a moment: a 0 timeout would make
                # the socket non-blocking instead.
                self._sock.settimeout(max(remaining, 0.001))
                view = view[self._sock.send(view) :]
        except OSError as e:
            # Part of a frame may be on the wire: nothing more can be sent on this stream.
            self._end(f"writing failed ({_describe(e)})")
            if self._protocol.state is State.CONNECTING:
                raise
            raise WebSocketClosed(self._endpoint, self._ended or "") from None

    def _check_open(self) -> None:
        if self._ended is not None:
            raise WebSocketClosed(self._endpoint, self._ended)
        if self._protocol.state is not State.OPEN:
            self._end(self._close_description())
            raise WebSocketClosed(self._endpoint, self._ended or "")

    def _check_parser(self) -> None:
        exc = self._protocol.parser_exc
        if exc is None or self._pending is not None or isinstance(exc, EOFError):
            return
        if isinstance(exc, PayloadTooBig):
            problem = f"is larger than the {self._max_size}-byte limit ({exc})"
        else:
            problem = f"is not a valid WebSocket message ({exc})"
        # The protocol failed the connection (its close frame is sent): report it once,
        # at the read that would have returned the message, then the connection is closed.
        self._pending = MalformedMessageError(self._endpoint, problem)
        self._end(f"the client failed it: a message {problem}")

    def _close_description(self) -> str:
        received = self._protocol.close_rcvd
        if received is not None:
            return f"the server closed it ({received})"
        return "the server dropped it without a closing handshake"

    def _end(self, reason: str) -> None:
        if self._ended is None:
            self._ended = reason
            try:
                self._sock.close()
            except OSError:
                logger.debug("closing the socket to %s failed", self._endpoint, exc_info=True)


def _settimeout(sock: socket.socket, deadline: float) -> None:
    # A timeout of 0 would make the socket non-blocking (SSLWantReadError), not time out.
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)


def _describe(e: OSError) -> str:
    return f"{e.__class__.__name__}: {e.strerror}" if e.strerror else e.__class__.__name__


def _open_failure(endpoint: str, timeout: float, e: Exception) -> Exception:
    """Map what opening a connection can raise to the client's errors."""
    if isinstance(e, (ConnectionFailed, ProtocolError)):
        reason = e.reason if isinstance(e, WebSocketClosed) else e.message
        return ConnectionFailed(f"{endpoint}: {reason}")
    if isinstance(e, OSError):
        if is_tls_failure(e):
            return tls_failure(endpoint, e)
        if isinstance(e, TimeoutError):
            return ConnectionFailed(f"{endpoint}: no answer within {timeout:g} s")
        return ConnectionFailed(f"{endpoint}: {e.strerror or e.__class__.__name__}")
    if isinstance(e, InvalidStatus):
        return ConnectionFailed(
            f"{endpoint}: the WebSocket handshake was refused (HTTP {e.response.status_code})"
        )
    if isinstance(e, (InvalidHandshake, InvalidURI)):
        return ConnectionFailed(f"{endpoint}: WebSocket handshake failed ({e})")
    return e


__all__ = ["CLOSE_TIMEOUT", "MalformedMessageError", "WebSocket", "WebSocketClosed"]
