"""Servers that accept and then say nothing, or half of something: every timeout must hold.

A controller (or anything listening at its address) may accept TCP and never start TLS,
complete TLS and never answer the WebSocket upgrade, or start a TLS record and never finish it.
The client must give up within its timeout every time, never wait forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ops import testing

import juju_api
from juju_api import errors
from tests.faults import rawserver
from tests.faults.conftest import Record
from tests.faults.harness import (
    CANARY_PASSWORD,
    CANARY_USER,
    Charm,
    credentials,
    losses,
    lost_text,
    state,
)
from tests.faults.rawserver import Authority, Behaviour, RawServer

TIMEOUT = 1.0
# Generous: connect() may take a few timeouts (open, then close); a hang is minutes or forever.
BOUND = 20.0


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


@pytest.fixture
def serve(authority: Authority) -> Iterator[Callable[[Behaviour], RawServer]]:
    servers: list[RawServer] = []

    def start(behaviour: Behaviour) -> RawServer:
        server = RawServer(behaviour, authority.issue())
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def bounded(fn: Callable[[], Any], what: str) -> BaseException | None:
    """Run fn in a thread; fail the case if it is still running after BOUND seconds."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
        except BaseException as e:  # handed to the test, which asserts on its type
            outcome.append(e)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    if thread.is_alive():
        pytest.fail(f"{what}: still waiting after {BOUND:g} s with a {TIMEOUT:g} s timeout")
    return outcome[0]


CONNECT_CASES = [
    ("TCP accepted, TLS never starts", rawserver.silent_tcp, "no answer within 1 s"),
    ("TLS done, the upgrade never answered", rawserver.tls_then_silent, "no answer within 1 s"),
    ("TLS done, then half a TLS record", rawserver.tls_then_partial_record, "no answer within"),
    (
        "upgrade done, Login never answered",
        rawserver.upgrade_then_silent,
        "login failed: no answer to Admin(3).Login",
    ),
    (
        "upgrade done, half a TLS record after Login",
        rawserver.upgrade_then_partial_record,
        "login failed: no answer to Admin(3).Login",
    ),
]


@pytest.mark.parametrize(
    ("case", "behaviour", "said"), CONNECT_CASES, ids=[c[0] for c in CONNECT_CASES]
)
def test_connect_gives_up_in_time(
    serve: Callable[[Behaviour], RawServer],
    authority: Authority,
    record: Record,
    case: str,
    behaviour: Behaviour,
    said: str,
) -> None:
    server = serve(behaviour)

    def attempt() -> None:
        juju_api.connect(
            [server.endpoint], authority.ca_pem, CANARY_USER, CANARY_PASSWORD, timeout=TIMEOUT
        )

    error = bounded(attempt, case)

    assert isinstance(error, errors.ConnectionFailed), repr(error)
    assert not isinstance(error, errors.TLSVerificationFailed)
    assert said in str(error)
    record(f"client: {case}", f"ConnectionFailed in time: {error}", "no")


DOWNLOAD_CASES = [
    ("TCP accepted, TLS never starts", rawserver.silent_tcp, errors.ConnectionFailed),
    ("TLS done, the GET never answered", rawserver.tls_then_silent, errors.DownloadError),
    ("TLS done, then half a TLS record", rawserver.tls_then_partial_record, errors.DownloadError),
]


def _headers_then_stall(peer: rawserver.Peer) -> None:
    peer.tls()
    peer.recv_http()
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nsome bytes")
    peer.idle()


def _headers_then_partial_record(peer: rawserver.Peer) -> None:
    peer.tls()
    peer.recv_http()
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nsome bytes")
    peer.write_beneath_tls(b"\x17\x03\x03\x00\x40partial")
    peer.idle()


DOWNLOAD_CASES += [
    ("the body stalls after 10 bytes", _headers_then_stall, errors.DownloadError),
    ("half a TLS record inside the body", _headers_then_partial_record, errors.DownloadError),
]


@pytest.mark.parametrize(
    ("case", "behaviour", "raised"), DOWNLOAD_CASES, ids=[c[0] for c in DOWNLOAD_CASES]
)
def test_download_gives_up_in_time(
    serve: Callable[[Behaviour], RawServer],
    authority: Authority,
    record: Record,
    tmp_path: Path,
    case: str,
    behaviour: Behaviour,
    raised: type[Exception],
) -> None:
    server = serve(behaviour)
    storage = tmp_path / "archives"
    storage.mkdir()
    dest = storage / "juju-backup-20261204-161500.tar.gz"

    def attempt() -> None:
        juju_api.download_backup(
            endpoint=server.endpoint,
            ca_cert=authority.ca_pem,
            model_uuid=rawserver.MODEL_UUID,
            username=CANARY_USER,
            password=CANARY_PASSWORD,
            backup_id="/tmp/juju-backup-20261204-161500.tar.gz",
            dest=dest,
            expected_checksum="x",
            expected_size=1000,
            timeout=TIMEOUT,
        )

    error = bounded(attempt, case)

    assert isinstance(error, raised), repr(error)
    left = sorted(p.name for p in storage.iterdir())
    record(f"download: {case}", f"{type(error).__name__} in time: {error}", lost_text(left))
    assert left == []  # no archive, no .part


def test_charm_with_a_stalling_controller(
    serve: Callable[[Behaviour], RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
) -> None:
    server = serve(rawserver.upgrade_then_partial_record)
    secret = credentials(server.endpoint, authority.ca_pem)

    outcome: list[Any] = []
    error = bounded(
        lambda: outcome.append(charm.action("create-backup", state(secret, timeout=1))),
        "create-backup against a stalling controller",
    )

    assert error is None, repr(error)
    (run,) = outcome
    assert run.message.startswith(f"cannot reach the controller at {server.endpoint} (")
    assert isinstance(run.status, testing.WaitingStatus)
    assert server.accepted == 3  # three attempts, each given up on
    found = losses(charm.root())
    record(
        "charm: controller completes the upgrade, then stalls mid-record",
        run.describe(),
        lost_text(found),
    )
    assert found == []
