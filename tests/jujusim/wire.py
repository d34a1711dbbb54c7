"""Plain clients for tests of the simulator itself: raw JSON over websockets, http.client.

Deliberately thin: they send exactly what a test writes, so that the simulator's answers to
well- and ill-formed requests can be checked without any interpretation in between.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

SERVER_NAME = "juju-apiserver"


def tls_context(ca_cert: str, *, max_tls12: bool = False) -> ssl.SSLContext:
    """Trust exactly this CA, and check the server's name as Juju's clients do."""
    ctx = ssl.create_default_context(cadata=ca_cert)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class RawRpc:
    """One WebSocket API connection; `call` sends a request and returns the whole answer."""

    def __init__(self, endpoint: str, ca_cert: str, model_uuid: str | None = None) -> None:
        path = f"/model/{model_uuid}/api" if model_uuid else "/api"
        connection = connect(
            f"wss://{endpoint}{path}",
            # websockets' sync client reads in a thread while the caller writes; with TLS 1.3
            # the reader handles the server's post-handshake session tickets (the simulator
            # sends them, as Go servers do) and OpenSSL is not safe for that: about one
            # connection in a few hundred stalls. TLS 1.2 has no post-handshake messages.
            ssl=tls_context(ca_cert, max_tls12=True),
            server_hostname=SERVER_NAME,
            max_size=64 << 20,
            open_timeout=10,
        )
        # Entered as a context manager: websockets 17 warns about bare connections.
        self.ws: ClientConnection = connection.__enter__()
        self._next_id = 0

    def __enter__(self) -> RawRpc:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    def send(self, message: dict[str, Any] | str) -> None:
        self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def recv(self, timeout: float | None = 30) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=timeout))

    def request(
        self,
        facade: str,
        version: int,
        method: str,
        params: Any = None,
        *,
        obj_id: str = "",
    ) -> int:
        """Send a request without waiting; returns its request-id."""
        self._next_id += 1
        message: dict[str, Any] = {
            "request-id": self._next_id,
            "type": facade,
            "version": version,
            "id": obj_id,
            "request": method,
        }
        if params is not None:
            message["params"] = params
        self.send(message)
        return self._next_id

    def call(
        self, facade: str, version: int, method: str, params: Any = None, *, obj_id: str = ""
    ) -> dict[str, Any]:
        request_id = self.request(facade, version, method, params, obj_id=obj_id)
        answer = self.recv()
        assert answer.get("request-id") == request_id, answer
        return answer

    def login(self, username: str, password: str, **extra: Any) -> dict[str, Any]:
        params = {"auth-tag": f"user-{username}", "credentials": password, **extra}
        params.setdefault("client-version", "3.6.0")
        return self.call("Admin", 3, "Login", params)


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Connection(http.client.HTTPSConnection):
    """HTTPS to an address, verifying the certificate for juju-apiserver."""

    def __init__(self, endpoint: str, ca_cert: str, timeout: float) -> None:
        host, _, port = endpoint.rpartition(":")
        super().__init__(host, int(port), timeout=timeout)
        self._tls = tls_context(ca_cert)

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=SERVER_NAME)


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"user-{username}:{password}".encode()).decode()


def http_request(
    endpoint: str,
    ca_cert: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
    timeout: float = 30,
) -> HttpAnswer:
    conn = _Connection(endpoint, ca_cert, timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def download(
    endpoint: str,
    ca_cert: str,
    model_uuid: str,
    username: str,
    password: str,
    backup_id: str,
    *,
    content_type: str = "application/json",
    timeout: float = 30,
) -> HttpAnswer:
    """GET /model/<uuid>/backups with the JSON body {"id": ...}, as Juju's client does."""
    return http_request(
        endpoint,
        ca_cert,
        "GET",
        f"/model/{model_uuid}/backups",
        headers={"Authorization": basic_auth(username, password), "Content-Type": content_type},
        body=json.dumps({"id": backup_id}).encode(),
        timeout=timeout,
    )


def upload(
    endpoint: str,
    ca_cert: str,
    model_uuid: str,
    username: str,
    password: str,
    metadata: dict[str, Any],
    archive: bytes,
) -> HttpAnswer:
    """PUT /model/<uuid>/backups: multipart/related, the metadata then the archive."""
    boundary = "jujusim-test-boundary-7f3a"
    body = b"".join(
        [
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(),
            json.dumps(metadata).encode(),
            f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
            archive,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return http_request(
        endpoint,
        ca_cert,
        "PUT",
        f"/model/{model_uuid}/backups",
        headers={
            "Authorization": basic_auth(username, password),
            "Content-Type": f'multipart/related; boundary="{boundary}"',
        },
        body=body,
    )
