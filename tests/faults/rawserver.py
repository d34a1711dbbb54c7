"""A deliberately broken "controller": raw sockets, hand-made TLS certificates and frames.

The simulator must stay faithful to Juju, so the answers no real controller gives (garbage
JSON, a frame over the size limit, a stalled TLS record, a certificate for the wrong name) come
from here. Each accepted connection runs a behaviour, a plain function of a :class:`Peer`, in
its own thread.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTROLLER_UUID = "deadbeef-0000-4000-8000-000000000001"
MODEL_UUID = "deadbeef-0000-4000-8000-0000000000aa"
SERVER_VERSION = "3.6.27"

# -- certificates ------------------------------------------------------------------------------


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True)
class ServerCert:
    cert_pem: str
    key_pem: str

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="faults-tls-") as tmp:
            cert, key = Path(tmp, "c.pem"), Path(tmp, "k.pem")
            cert.write_text(self.cert_pem)
            key.write_text(self.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx


class Authority:
    """A throw-away CA that issues server certificates with any names and validity."""

    def __init__(self, name: str = "faults-ca") -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=2))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.key_pem = _key_pem(self._key)

    def issue(
        self,
        names: Iterable[str] = ("juju-apiserver", "localhost"),
        *,
        days_valid: tuple[int, int] = (-1, 30),
    ) -> ServerCert:
        """A server certificate for `names` valid from/to these days relative to now."""
        now = datetime.datetime.now(datetime.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "controller")]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_valid[0]))
            .not_valid_after(now + datetime.timedelta(days=days_valid[1]))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return ServerCert(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))


# -- one connection ----------------------------------------------------------------------------


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Peer:
    """One accepted connection, seen from the server."""

    def __init__(self, sock: socket.socket, server: RawServer) -> None:
        self.sock: socket.socket = sock
        self.server = server
        self._buffer = b""

    @property
    def port(self) -> int:
        return self.server.port

    # TLS and raw bytes

    def tls(self) -> None:
        self.sock = self.server.tls_context().wrap_socket(self.sock, server_side=True)
        self.server.note("tls")

    def write_beneath_tls(self, data: bytes) -> None:
        # Straight to the file descriptor: the client's TLS layer sees a record it cannot finish.
        os.write(self.sock.fileno(), data)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("peer closed")
            self._buffer += chunk
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def idle(self) -> None:
        """Say nothing until the client goes away or the server stops."""
        self.sock.settimeout(0.2)
        while not self.server.stopping.is_set():
            try:
                if not self.sock.recv(65536):
                    return
            except TimeoutError:
                continue
            except (OSError, ssl.SSLError):
                return

    # HTTP

    def recv_http(self) -> HttpRequest:
        while b"\r\n\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("peer closed before a request")
            self._buffer += chunk
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self._read(int(headers.get("content-length", "0") or 0))
        request = HttpRequest(method, path, headers, body)
        self.server.requests.append(request)
        return request

    def upgrade(self, request: HttpRequest) -> None:
        key = request.headers["sec-websocket-key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()  # noqa: S324
        self.send(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )

    # WebSocket frames (the client masks its frames; a server never does)

    def recv_frame(self) -> tuple[int, bytes]:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        mask = self._read(4) if second & 0x80 else b"\0\0\0\0"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read(length)))
        return first & 0x0F, payload

    def recv_message(self) -> dict[str, Any]:
        while True:
            opcode, payload = self.recv_frame()
            if opcode == 8:
                raise ConnectionError("client closed")
            if opcode in (1, 2):
                message = json.loads(payload)
                self.server.messages.append(message)
                return message

    @staticmethod
    def frame_header(opcode: int, length: int) -> bytes:
        if length < 126:
            return bytes([0x80 | opcode, length])
        if length < 1 << 16:
            return bytes([0x80 | opcode, 126]) + struct.pack("!H", length)
        return bytes([0x80 | opcode, 127]) + struct.pack("!Q", length)

    def send_frame(self, payload: bytes, opcode: int = 1) -> None:
        self.send(self.frame_header(opcode, len(payload)) + payload)

    def send_json(self, message: Any) -> None:
        self.send_frame(json.dumps(message).encode())


# -- the server --------------------------------------------------------------------------------

Behaviour = Callable[[Peer], None]


@dataclass
class RawServer:
    """Accepts on 127.0.0.1 and runs `behaviour` for every connection, each in a thread."""

    behaviour: Behaviour
    cert: ServerCert | None = None
    requests: list[HttpRequest] = field(default_factory=list[HttpRequest])
    messages: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    events: list[str] = field(default_factory=list[str])

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self._context: ssl.SSLContext | None = None
        self._threads: list[threading.Thread] = []
        self._peers: list[Peer] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    @property
    def downloads(self) -> list[HttpRequest]:
        """The HTTP requests that were not WebSocket upgrades."""
        return [r for r in self.requests if r.headers.get("upgrade", "").lower() != "websocket"]

    @property
    def accepted(self) -> int:
        return self.events.count("accept")

    def note(self, event: str) -> None:
        self.events.append(event)

    def tls_context(self) -> ssl.SSLContext:
        if self.cert is None:
            raise RuntimeError("this server has no certificate")
        if self._context is None:
            self._context = self.cert.context()
        return self._context

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            peer = Peer(sock, self)
            self._peers.append(peer)
            self.note("accept")
            thread = threading.Thread(target=self._run, args=(peer,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, peer: Peer) -> None:
        try:
            self.behaviour(peer)
        except (OSError, ssl.SSLError, ConnectionError, ValueError):
            self.note("peer-error")
        finally:
            with contextlib.suppress(OSError):
                peer.sock.close()

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        for peer in self._peers:
            # Wakes a behaviour blocked in a send or a receive (peer.sock may be the TLS one).
            with contextlib.suppress(OSError):
                socket.socket.shutdown(peer.sock, socket.SHUT_RDWR)
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)


# -- behaviours --------------------------------------------------------------------------------


def silent_tcp(peer: Peer) -> None:
    """Accept the TCP connection and never start TLS."""
    peer.idle()


def tls_then_silent(peer: Peer) -> None:
    """Complete TLS, then never answer the HTTP upgrade."""
    peer.tls()
    peer.idle()


def tls_then_partial_record(peer: Peer) -> None:
    """Complete TLS, then send the first bytes of a TLS record and nothing more."""
    peer.tls()
    peer.write_beneath_tls(b"\x17\x03\x03\x00\x40partial")
    peer.idle()


def upgrade_then_silent(peer: Peer) -> None:
    """Complete the WebSocket upgrade, then never answer Login."""
    peer.tls()
    peer.upgrade(peer.recv_http())
    peer.recv_message()
    peer.idle()


def upgrade_then_partial_record(peer: Peer) -> None:
    """Complete the upgrade; after Login arrives, send half a TLS record."""
    peer.tls()
    peer.upgrade(peer.recv_http())
    peer.recv_message()
    peer.write_beneath_tls(b"\x17\x03\x03\x00\x40partial")
    peer.idle()


def login_result(port: int, model_uuid: str | None = MODEL_UUID) -> dict[str, Any]:
    """What a 3.6 controller answers a superuser's Login with."""
    result: dict[str, Any] = {
        "servers": [
            [{"value": "127.0.0.1", "type": "ipv4", "scope": "local-machine", "port": port}]
        ],
        "controller-tag": f"controller-{CONTROLLER_UUID}",
        "user-info": {
            "display-name": "",
            "identity": "user-backups",
            "controller-access": "superuser",
            "model-access": "admin",
        },
        "facades": [
            {"name": "Backups", "versions": [3]},
            {"name": "ModelManager", "versions": [10]},
            {"name": "Pinger", "versions": [1]},
        ],
        "server-version": SERVER_VERSION,
    }
    if model_uuid:
        result["model-tag"] = f"model-{model_uuid}"
    return result


def archive_metadata(body: bytes, **override: Any) -> dict[str, Any]:
    """A Create answer describing `body` as the archive, as 3.6 sends it."""
    checksum = base64.b64encode(hashlib.sha1(body).digest()).decode()  # noqa: S324
    meta: dict[str, Any] = {
        "id": "20261204-161500.deadbeef-0000-4000-8000-0000000000aa",
        "checksum": checksum,
        "checksum-format": "SHA-1, base64 encoded",
        "size": len(body),
        "stored": "0001-01-01T00:00:00Z",
        "started": "2026-12-04T16:15:00Z",
        "finished": "2026-12-04T16:15:01Z",
        "notes": "",
        "model": MODEL_UUID,
        "machine": "0",
        "hostname": "juju-controller-0",
        "version": SERVER_VERSION,
        "base": "ubuntu@24.04",
        "filename": "/tmp/juju-backup-20261204-161500.tar.gz",
        "format-version": 1,
        "controller-uuid": CONTROLLER_UUID,
        "controller-machine-id": "0",
        "controller-machine-inst-id": "i-0",
        "ha-nodes": 1,
    }
    meta.update(override)
    return meta


Answer = Callable[[Peer, dict[str, Any]], None]


def scripted_controller(
    login: Answer | None = None,
    create: Answer | None = None,
    download: Callable[[Peer, HttpRequest], None] | None = None,
) -> Behaviour:
    """A controller that answers Login and Create through the given functions.

    Defaults: a proper superuser Login, and a Create whose archive `download` then serves.
    """

    def behave(peer: Peer) -> None:
        peer.tls()
        request = peer.recv_http()
        if request.headers.get("upgrade", "").lower() != "websocket":
            if download is None:
                peer.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            download(peer, request)
            return
        peer.upgrade(request)
        while True:
            message = peer.recv_message()
            handler = {"Login": login, "Create": create}.get(str(message.get("request")))
            if handler is not None:
                handler(peer, message)
            elif message.get("request") == "Login":
                peer.send_json(
                    {"request-id": message["request-id"], "response": login_result(peer.port)}
                )
            else:
                peer.send_json(
                    {
                        "request-id": message["request-id"],
                        "error": f"no such request - method {message.get('request')}",
                        "error-code": "not implemented",
                        "response": {},
                    }
                )

    return behave


def serve_bytes(body: bytes, *, length: int | None = None, then_stall: bool = False) -> Any:
    """A download handler: 200 with `body` (and a Content-Length if given)."""

    def handler(peer: Peer, request: HttpRequest) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        head += f"Content-Length: {length}\r\n" if length is not None else "Connection: close\r\n"
        peer.send(head.encode() + b"\r\n" + body)
        if then_stall:
            peer.idle()

    return handler


def endless_download(peer: Peer, request: HttpRequest) -> None:
    """A download that never ends: the client must stop at the size it was told."""
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
    chunk = b"\0" * 65536
    while not peer.server.stopping.is_set():
        peer.send(chunk)
