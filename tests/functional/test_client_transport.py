"""The single-threaded WebSocket transport over real sockets: the simulator and silent servers.

The websockets sync client it replaced stalled about once in 150 connects under TLS 1.3 (a
background reader and the caller's writes racing on one OpenSSL object), and the stalled
connection could not even be closed. These tests make many connections with TLS 1.3, and check
that every way a server can fail to answer ends within the timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.server import ServerProtocol

import juju_api
from juju_api import connection as jc
from juju_api import errors as e
from juju_api.tls import pinned_context
from juju_api.transport import MalformedMessageError, WebSocket, WebSocketClosed
from tests.conftest import MakeSim
from tests.jujusim import Simulator
from tests.jujusim.pki import make_pki

CYCLES = 500


def login_request(sim: Simulator) -> dict[str, Any]:
    params = {"auth-tag": f"user-{sim.username}", "credentials": sim.password, "nonce": "",
              "macaroons": [], "user-data": ""}  # fmt: skip
    return {"request-id": 1, "type": "Admin", "version": 3, "id": "", "request": "Login",
            "params": params}  # fmt: skip


def test_many_connections_with_tls_1_3(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    versions: set[str | None] = set()
    for cycle in range(CYCLES):
        conn = juju_api.connect(sim.endpoints, sim.ca_cert, sim.username, sim.password, timeout=10)
        try:
            versions.add(conn.tls_version)
            models = conn.list_models()
        finally:
            conn.close()
        assert conn.closed
        assert {m.name for m in models} >= {"controller", "default"}, cycle
    assert versions == {"TLSv1.3"}
    logins = [c for c in sim.calls if (c.facade, c.method) == ("Admin", "Login")]
    assert len(logins) == CYCLES


def test_the_transport_alone_against_the_simulator(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    ws = WebSocket.open(sim.endpoints[0], "/api", pinned_context(sim.ca_cert), 10.0, 1 << 20)
    try:
        assert ws.tls_version == "TLSv1.3"
        ws.send_json(login_request(sim))
        answer = ws.recv_json(time.monotonic() + 10.0)
    finally:
        ws.close()
    assert answer["request-id"] == 1
    assert answer["response"]["server-version"] == "3.6.27"
    with pytest.raises(WebSocketClosed, match="closed by the client"):
        ws.send_json({"request-id": 2})


def test_a_frame_over_the_limit_is_a_protocol_error(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch
):
    sim = make_sim("3.6.27")
    # The simulator's Login answer (servers, facades, user info) is some 480 bytes.
    monkeypatch.setattr(jc, "MAX_FRAME", 256)
    with pytest.raises(e.ProtocolError, match=r"answer to Admin\(3\)\.Login is larger than"):
        juju_api.connect(sim.endpoints, sim.ca_cert, sim.username, sim.password, timeout=10)
    monkeypatch.undo()
    # The simulator took the refusal in its stride: the next client is served.
    with juju_api.connect(
        sim.endpoints, sim.ca_cert, sim.username, sim.password, timeout=10
    ) as conn:
        assert conn.list_models()


def test_the_transport_refuses_an_oversized_message(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    ws = WebSocket.open(sim.endpoints[0], "/api", pinned_context(sim.ca_cert), 10.0, 200)
    try:
        ws.send_json(login_request(sim))
        with pytest.raises(MalformedMessageError, match="larger than the 200-byte limit"):
            ws.recv_json(time.monotonic() + 10.0)
        assert ws.closed
    finally:
        ws.close()


# -- servers that never answer --------------------------------------------------------------


Behaviour = Callable[[socket.socket, threading.Event], None]


class SilentServer:
    """Accepts TCP connections, then runs ``behaviour`` on each (which may say nothing).

    A behaviour that stalls waits for ``stopping``, set when the test ends.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.accepted: list[socket.socket] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        # accept() is not woken by close() from another thread: poll, to stop promptly.
        self.listener.settimeout(0.1)
        with contextlib.suppress(OSError):
            while not self.stopping.is_set():
                try:
                    sock, _ = self.listener.accept()
                except TimeoutError:
                    continue
                sock.settimeout(None)
                self.accepted.append(sock)
                threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock: socket.socket) -> None:
        try:
            self.behaviour(sock, self.stopping)
        except OSError:
            pass  # the client hung up: expected once it gives up
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.listener.close()
        for sock in self.accepted:
            sock.close()


@pytest.fixture
def silent() -> Iterator[Callable[[Behaviour], SilentServer]]:
    servers: list[SilentServer] = []

    def start(behaviour: Behaviour) -> SilentServer:
        server = SilentServer(behaviour)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        assert server.errors == []


PKI = make_pki()


def never_speaks_tls(sock: socket.socket, stopping: threading.Event) -> None:
    stopping.wait(60)


def tls_then_silence(sock: socket.socket, stopping: threading.Event) -> None:
    tls = PKI.server_context().wrap_socket(sock, server_side=True)
    tls.recv(65536)  # the upgrade request, never answered
    stopping.wait(60)


def upgrade_then_silence(sock: socket.socket, stopping: threading.Event) -> None:
    tls = PKI.server_context().wrap_socket(sock, server_side=True)
    protocol = ServerProtocol()
    while not (events := protocol.events_received()):
        protocol.receive_data(tls.recv(65536))
    protocol.send_response(protocol.accept(events[0]))  # pyright: ignore[reportArgumentType]
    for data in protocol.data_to_send():
        tls.sendall(data)
    tls.recv(65536)  # the Login request, never answered
    stopping.wait(60)


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        (never_speaks_tls, "no answer within 0.5 s"),
        (tls_then_silence, "no answer within 0.5 s"),
        (upgrade_then_silence, "login failed: no answer to Admin(3).Login"),
    ],
    ids=["TCP but no TLS", "TLS but no upgrade", "upgrade but no Login answer"],
)
def test_silent_servers_are_given_up_on_in_time(
    silent: Callable[[Behaviour], SilentServer],
    behaviour: Behaviour,
    said: str,
):
    server = silent(behaviour)
    with pytest.raises(e.ConnectionFailed) as exc:
        juju_api.connect([server.endpoint], PKI.ca_cert_pem, "backups", "pw", timeout=0.5)
    assert not isinstance(exc.value, e.TLSVerificationFailed)
    assert said in str(exc.value)
    assert len(server.accepted) == 1


def test_a_silent_endpoint_is_skipped_for_the_next(
    make_sim: MakeSim,
    silent: Callable[[Behaviour], SilentServer],
):
    sim = make_sim("3.6.27")
    server = silent(never_speaks_tls)
    with juju_api.connect(
        [server.endpoint, *sim.endpoints], sim.ca_cert, sim.username, sim.password, timeout=0.5
    ) as conn:
        assert conn.endpoint == sim.endpoints[0]
        assert conn.tls_version == "TLSv1.3"
