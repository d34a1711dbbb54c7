"""The single-threaded WebSocket transport, against a TLS peer over an AF_UNIX socket pair.

No network sockets: the client's end of a ``socket.socketpair()`` stands in for the TCP
connection, and a thread plays the controller on the other end with real TLS (a CA and a
server certificate made here) and websockets' Sans-I/O server protocol, or hand-made frames.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from juju_api import errors as e
from juju_api import transport
from juju_api.tls import pinned_context
from juju_api.transport import MalformedMessageError, WebSocket, WebSocketClosed

ENDPOINT = "10.0.0.1:17070"
# Long enough never to fire on a loaded machine; short ones are given where a timeout is meant.
SLOW = 20.0


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Authority:
    """A CA, and server certificates signed by it."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("juju-ca"))
            .issuer_name(_name("juju-ca"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def server_context(
        self,
        names: tuple[str, ...] = ("juju-apiserver", "localhost"),
        maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.maximum_version = maximum
        with tempfile.TemporaryDirectory() as tmp:
            cert_file, key_file = Path(tmp, "c.pem"), Path(tmp, "k.pem")
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_file.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            ctx.load_cert_chain(cert_file, key_file)
        return ctx


AUTHORITY = Authority()
OTHER_AUTHORITY = Authority()


class Peer:
    """The controller's end: TLS server, WebSocket server, and a raw frame writer."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(SLOW)
        self.raw = sock
        self.tls: ssl.SSLSocket | None = None
        self.protocol = ServerProtocol(max_size=None)
        self.request: Request | None = None
        self.frames: list[Frame] = []
        self.eof = False

    @property
    def sock(self) -> socket.socket:
        return self.tls or self.raw

    def start_tls(self, ctx: ssl.SSLContext | None = None) -> None:
        ctx = ctx or AUTHORITY.server_context()
        self.tls = ctx.wrap_socket(self.raw, server_side=True)

    def read_request(self) -> Request:
        while self.request is None:
            self._feed()
        return self.request

    def accept(self, ctx: ssl.SSLContext | None = None) -> None:
        self.start_tls(ctx)
        request = self.read_request()
        self.protocol.send_response(self.protocol.accept(request))
        self._flush()

    def reject(self, status: int) -> None:
        self.protocol.send_response(self.protocol.reject(status, "no\n"))
        self._flush()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake, as a server going away does."""
        self.protocol.send_close(code, reason)
        self._flush()

    def next_frame(self) -> Frame:
        while not self.frames:
            if self.eof:
                raise EOFError("the client closed the connection")
            self._feed()
        return self.frames.pop(0)

    def next_message(self) -> Any:
        frame = self.next_frame()
        assert frame.opcode is Opcode.TEXT, frame
        return json.loads(bytes(frame.data))

    def send_frame(self, payload: bytes, opcode: int = 1, fin: bool = True) -> None:
        self.sock.sendall(header(opcode, len(payload), fin) + payload)

    def send_json(self, obj: Any) -> None:
        self.send_frame(json.dumps(obj).encode())

    def wait_for_eof(self) -> None:
        while not self.eof:
            self._feed()

    def _feed(self) -> None:
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.eof = True
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self.request = event
            elif isinstance(event, Frame):
                self.frames.append(event)
        self._flush()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if not data:
                # The protocol is done: a server ends TCP here.
                self.sock.close()
                self.eof = True
                return
            # The client may be gone already (it fails a connection without waiting).
            with contextlib.suppress(OSError):
                self.sock.sendall(data)


def header(opcode: int, length: int, fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        return bytes([first, length])
    if length < 1 << 16:
        return bytes([first, 126]) + struct.pack("!H", length)
    return bytes([first, 127]) + struct.pack("!Q", length)


Script = Callable[[Peer], None]


class Pair:
    """The client's socket and the peer's thread running a script on the other end."""

    def __init__(self, script: Script) -> None:
        self.client, server = socket.socketpair()
        self.peer = Peer(server)
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _run(self, script: Script) -> None:
        try:
            script(self.peer)
        except BaseException as exc:  # handed to the test at join()
            self.error = exc
        finally:
            self.done.set()

    def join(self) -> None:
        self.thread.join(SLOW)
        assert not self.thread.is_alive(), "the peer's script did not finish"
        if self.error is not None:
            raise self.error

    def open(self, ca: str = AUTHORITY.pem, *, timeout: float = SLOW, **kw: Any) -> WebSocket:
        options: dict[str, Any] = {"path": "/api", "max_size": 1 << 20} | kw
        return WebSocket.handshake(
            self.client,
            endpoint=ENDPOINT,
            ssl_context=pinned_context(ca),
            open_timeout=timeout,
            **options,
        )


@pytest.fixture
def pair() -> Iterator[Callable[[Script], Pair]]:
    pairs: list[Pair] = []

    def make(script: Script) -> Pair:
        p = Pair(script)
        pairs.append(p)
        return p

    yield make
    for p in pairs:
        p.client.close()
        p.peer.raw.close()
        p.thread.join(SLOW)


def deadline(seconds: float = SLOW) -> float:
    return time.monotonic() + seconds


# -- opening --------------------------------------------------------------------------------


def test_upgrade_then_a_round_trip_over_tls_1_3(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.accept()
        message = peer.next_message()
        peer.send_json({"request-id": message["request-id"], "response": {"ok": True}})
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open(path="/model/abc/api")
    assert ws.tls_version == "TLSv1.3"
    ws.send_json({"request-id": 7, "type": "Pinger", "request": "Ping"}, deadline())
    assert ws.recv_json(deadline()) == {"request-id": 7, "response": {"ok": True}}
    ws.close()
    p.join()
    request = p.peer.request
    assert request is not None
    assert request.path == "/model/abc/api"
    assert request.headers["Host"] == ENDPOINT
    assert "Sec-WebSocket-Extensions" not in request.headers  # no compression
    assert ws.closed
    assert ws.tls_version is None


def test_a_tls_1_2_controller_is_still_served(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.accept(AUTHORITY.server_context(maximum=ssl.TLSVersion.TLSv1_2))
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open()
    assert ws.tls_version == "TLSv1.2"
    ws.close()
    p.join()


@pytest.mark.parametrize(
    ("ca", "names"),
    [
        (OTHER_AUTHORITY.pem, ("juju-apiserver",)),  # another controller's certificate
        (AUTHORITY.pem, ("localhost", "controller.example")),  # not juju-apiserver
    ],
)
def test_tls_verification_failures(
    pair: Callable[[Script], Pair], ca: str, names: tuple[str, ...]
):
    def script(peer: Peer) -> None:
        # The client aborts the handshake: the server's side of it fails too.
        with contextlib.suppress(OSError):
            peer.start_tls(AUTHORITY.server_context(names=names))

    p = pair(script)
    with pytest.raises(e.TLSVerificationFailed, match="juju-apiserver") as exc:
        p.open(ca)
    assert exc.value.message.startswith(f"{ENDPOINT}: TLS verification")
    p.join()
    assert p.client.fileno() == -1  # closed on failure


def test_silence_instead_of_tls_times_out(pair: Callable[[Script], Pair]):
    release = threading.Event()

    def script(peer: Peer) -> None:
        release.wait(SLOW)

    p = pair(script)
    with pytest.raises(e.ConnectionFailed, match=r"no answer within 0\.2 s") as exc:
        p.open(timeout=0.2)
    assert not isinstance(exc.value, e.TLSVerificationFailed)
    release.set()
    p.join()


def test_an_unanswered_upgrade_times_out(pair: Callable[[Script], Pair]):
    release = threading.Event()

    def script(peer: Peer) -> None:
        peer.start_tls()
        peer.read_request()
        release.wait(SLOW)

    p = pair(script)
    with pytest.raises(e.ConnectionFailed, match=r"no answer within 0\.3 s"):
        p.open(timeout=0.3)
    release.set()
    p.join()


def test_a_refused_upgrade_names_the_status(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.start_tls()
        peer.read_request()
        peer.reject(403)

    p = pair(script)
    with pytest.raises(e.ConnectionFailed, match=r"refused \(HTTP 403\)"):
        p.open()
    p.join()


def test_a_drop_during_the_upgrade(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.start_tls()
        peer.read_request()
        peer.sock.close()

    p = pair(script)
    with pytest.raises(e.ConnectionFailed, match=ENDPOINT) as exc:
        p.open()
    assert not isinstance(exc.value, e.TLSVerificationFailed)
    p.join()


def test_open_maps_dial_failures(monkeypatch: pytest.MonkeyPatch):
    def refuse(address: tuple[str, int], timeout: float) -> socket.socket:
        assert address == ("fd00::1", 17070)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(transport.socket, "create_connection", refuse)
    with pytest.raises(e.ConnectionFailed, match=r"\[fd00::1\]:17070: Connection refused"):
        WebSocket.open("[fd00::1]:17070", "/api", pinned_context(AUTHORITY.pem), 5.0, 1 << 20)

    def slow(address: tuple[str, int], timeout: float) -> socket.socket:
        assert timeout == 5.0
        raise TimeoutError

    monkeypatch.setattr(transport.socket, "create_connection", slow)
    with pytest.raises(e.ConnectionFailed, match=r"h:1: no answer within 5 s"):
        WebSocket.open("h:1", "/api", pinned_context(AUTHORITY.pem), 5.0, 1 << 20)


def test_open_dials_then_upgrades(monkeypatch: pytest.MonkeyPatch):
    client, server = socket.socketpair()
    peer = Peer(server)

    def script() -> None:
        peer.accept()
        peer.wait_for_eof()

    thread = threading.Thread(target=script, daemon=True)
    thread.start()
    dialled: list[tuple[str, int]] = []

    def dial(address: tuple[str, int], timeout: float) -> socket.socket:
        dialled.append(address)
        return client

    monkeypatch.setattr(transport.socket, "create_connection", dial)
    ws = WebSocket.open("127.0.0.1:17070", "/api", pinned_context(AUTHORITY.pem), SLOW, 1 << 20)
    ws.close()
    thread.join(SLOW)
    server.close()
    assert dialled == [("127.0.0.1", 17070)]
    assert peer.request is not None
    assert peer.request.headers["Host"] == "127.0.0.1:17070"


# -- messages -------------------------------------------------------------------------------


def test_pings_are_answered_while_waiting(pair: Callable[[Script], Pair]):
    pongs: list[bytes] = []

    def script(peer: Peer) -> None:
        peer.accept()
        peer.send_frame(b"are you there", opcode=0x9)
        frame = peer.next_frame()
        assert frame.opcode is Opcode.PONG
        pongs.append(bytes(frame.data))
        peer.send_json({"after": "pong"})
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open()
    assert ws.recv_json(deadline()) == {"after": "pong"}
    ws.close()
    p.join()
    assert pongs == [b"are you there"]


def test_fragments_are_joined(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.accept()
        peer.send_frame(b'{"request-id": 1, ', opcode=0x1, fin=False)
        peer.send_frame(b"are you there", opcode=0x9)  # control frames may interleave
        peer.send_frame(b'"response": ', opcode=0x0, fin=False)
        peer.send_frame(b'{"a": [1, 2]}}', opcode=0x0, fin=True)
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open()
    assert ws.recv_json(deadline()) == {"request-id": 1, "response": {"a": [1, 2]}}
    ws.close()
    p.join()


def test_a_timeout_mid_frame_keeps_the_stream_whole(pair: Callable[[Script], Pair]):
    go_on = threading.Event()
    body = json.dumps({"request-id": 3, "response": {"x": "y" * 5000}}).encode()

    def script(peer: Peer) -> None:
        peer.accept()
        frame = header(1, len(body)) + body
        peer.sock.sendall(frame[:1000])
        go_on.wait(SLOW)
        peer.sock.sendall(frame[1000:])
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open()
    with pytest.raises(TimeoutError):
        ws.recv_json(deadline(0.2))
    assert not ws.closed
    go_on.set()
    assert ws.recv_json(deadline())["request-id"] == 3
    ws.close()
    p.join()


@pytest.mark.parametrize(
    ("payload", "opcode"),
    [
        (b'{"request-id": 1, "response": {', 1),
        (bytes(range(256)), 2),
        (b'{"text": "\xff\xfe"}', 1),  # not UTF-8
    ],
)
def test_not_json_is_malformed_and_the_connection_goes_on(
    pair: Callable[[Script], Pair], payload: bytes, opcode: int
):
    def script(peer: Peer) -> None:
        peer.accept()
        peer.send_frame(payload, opcode)
        peer.send_json({"next": 1})
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open()
    with pytest.raises(MalformedMessageError, match=rf"is not valid JSON \({len(payload)} bytes"):
        ws.recv_json(deadline())
    assert not ws.closed
    assert ws.recv_json(deadline()) == {"next": 1}
    ws.close()
    p.join()


def test_a_frame_over_the_limit_is_refused_from_its_header(pair: Callable[[Script], Pair]):
    closes: list[Close] = []

    def script(peer: Peer) -> None:
        peer.accept()
        peer.send_json({"small": 1})
        # Announce 65 MiB and send a few bytes: the client must not wait for the rest.
        peer.sock.sendall(header(1, 65 << 20) + b'{"request-id": 1')
        frame = peer.next_frame()
        assert frame.opcode is Opcode.CLOSE
        closes.append(Close.parse(bytes(frame.data)))

    p = pair(script)
    ws = p.open(max_size=64 << 20)
    # What arrived before the bad frame is still delivered.
    assert ws.recv_json(deadline()) == {"small": 1}
    with pytest.raises(MalformedMessageError, match="larger than the 67108864-byte limit"):
        ws.recv_json(deadline())
    assert ws.closed
    with pytest.raises(WebSocketClosed, match="larger than"):
        ws.send_json({"x": 1}, deadline())
    p.join()
    assert [c.code for c in closes] == [1009]


def test_a_fragmented_message_over_the_limit_is_refused(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.accept()
        peer.send_frame(b"x" * 700, opcode=1, fin=False)
        peer.send_frame(b"x" * 700, opcode=0, fin=True)
        peer.next_frame()

    p = pair(script)
    ws = p.open(max_size=1000)
    with pytest.raises(MalformedMessageError, match="larger than"):
        ws.recv_json(deadline())
    p.join()


def test_a_masked_server_frame_is_a_protocol_error(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.accept()
        peer.sock.sendall(bytes([0x81, 0x80 | 2]) + b"\x00\x00\x00\x00{}")
        peer.next_frame()

    p = pair(script)
    ws = p.open()
    with pytest.raises(MalformedMessageError, match="not a valid WebSocket message"):
        ws.recv_json(deadline())
    assert ws.closed
    p.join()


def test_a_close_from_the_server_carries_its_reason(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.accept()
        peer.close(1011, "agent shutting down")
        echo = peer.next_frame()
        assert echo.opcode is Opcode.CLOSE

    p = pair(script)
    ws = p.open()
    with pytest.raises(WebSocketClosed, match=r"1011.*agent shutting down") as exc:
        ws.recv_json(deadline())
    assert isinstance(exc.value, e.ConnectionFailed)
    assert ws.closed
    with pytest.raises(WebSocketClosed, match="agent shutting down"):
        ws.send_json({}, deadline())
    p.join()


def test_a_drop_without_a_close_frame(pair: Callable[[Script], Pair]):
    def script(peer: Peer) -> None:
        peer.accept()
        peer.next_message()
        peer.sock.close()

    p = pair(script)
    ws = p.open()
    ws.send_json({"request-id": 1}, deadline())
    with pytest.raises(WebSocketClosed, match="without a closing handshake"):
        ws.recv_json(deadline())
    assert ws.closed
    p.join()


def test_a_message_given_up_on_is_never_sent_late(pair: Callable[[Script], Pair]):
    received: list[Any] = []

    def script(peer: Peer) -> None:
        peer.accept()
        received.append(peer.next_message())
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open()
    with pytest.raises(TimeoutError):
        ws.send_json({"request-id": 1}, time.monotonic() - 1)
    assert not ws.closed
    ws.send_json({"request-id": 2}, deadline())
    ws.close()
    p.join()
    assert received == [{"request-id": 2}]


# -- closing --------------------------------------------------------------------------------


def test_close_does_the_closing_handshake(pair: Callable[[Script], Pair]):
    closes: list[Close] = []

    def script(peer: Peer) -> None:
        peer.accept()
        frame = peer.next_frame()  # the peer echoes it and ends TCP, as Juju does
        assert frame.opcode is Opcode.CLOSE
        closes.append(Close.parse(bytes(frame.data)))
        assert peer.eof

    p = pair(script)
    ws = p.open()
    ws.close()
    ws.close()  # idempotent
    p.join()
    assert [c.code for c in closes] == [1000]
    with pytest.raises(WebSocketClosed, match="closed by the client"):
        ws.send_json({}, deadline())


def test_close_is_bounded_when_the_server_never_answers(pair: Callable[[Script], Pair]):
    release = threading.Event()

    def script(peer: Peer) -> None:
        peer.accept()
        release.wait(SLOW)  # never reads the close, never answers it

    p = pair(script)
    ws = p.open(timeout=0.3)
    ws.close()  # returns after the close timeout (0.3 s here): pytest-timeout guards a hang
    assert ws.closed
    release.set()
    p.join()


def test_frames_never_reach_the_logs(
    pair: Callable[[Script], Pair], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="websockets")  # the charm sets it to INFO

    def script(peer: Peer) -> None:
        peer.accept()
        peer.next_message()
        peer.send_json({"request-id": 1, "response": {"ca-private-key": "KEY-MATERIAL"}})
        peer.wait_for_eof()

    p = pair(script)
    ws = p.open()
    ws.send_json({"request-id": 1, "params": {"credentials": "s3cret-password"}}, deadline())
    assert ws.recv_json(deadline())["response"]["ca-private-key"] == "KEY-MATERIAL"
    ws.close()
    p.join()
    # The peer's own server protocol logs frames; the client's side must not.
    client = [r for r in caplog.records if not r.name.startswith("websockets.server")]
    assert any(r.name == "juju_api.transport" for r in client)  # it does log, at DEBUG
    text = "\n".join(r.getMessage() for r in client)
    assert "s3cret-password" not in text
    assert "KEY-MATERIAL" not in text
