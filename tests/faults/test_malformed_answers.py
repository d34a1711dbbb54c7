"""Answers no real controller gives, from a hand-made TLS WebSocket server, through the charm.

Each case: the action fails with a message that says the controller's answer made no sense
(or that the download is wrong), the status fits, nothing is left on the storage, nothing
outside it is touched, and no secret the server put in its garbage reaches the operator.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ops import testing

from tests.faults import rawserver
from tests.faults.conftest import Record
from tests.faults.harness import (
    CANARY_PASSWORD,
    Charm,
    Exposure,
    credentials,
    losses,
    lost_text,
    state,
)
from tests.faults.rawserver import Authority, Peer, RawServer

BODY = b"not really a tar.gz, but these bytes are the archive " * 64


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority()


@pytest.fixture
def controller(authority: Authority, exposure: Exposure) -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []
    exposure.secret("the canary password", CANARY_PASSWORD)
    exposure.secret("the raw server's CA private key", _marker(authority.key_pem))

    def start(**script: Any) -> RawServer:
        server = RawServer(rawserver.scripted_controller(**script), authority.issue())
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _marker(pem: str) -> str:
    body = [line for line in pem.splitlines() if line and "-----" not in line]
    return body[len(body) // 2]


def raw_state(server: RawServer, authority: Authority, **options: Any) -> testing.State:
    secret = credentials(server.endpoint, authority.ca_pem)
    options.setdefault("controller-model-uuid", rawserver.MODEL_UUID)
    options.setdefault("create-timeout", 2)
    return state(secret, timeout=1, **options)


def run_against(server: RawServer, authority: Authority, charm: Charm, **options: Any) -> Any:
    return charm.action("create-backup", raw_state(server, authority, **options))


def reply(raw: bytes, opcode: int = 1) -> rawserver.Answer:
    def answer(peer: Peer, message: dict[str, Any]) -> None:
        peer.send_frame(raw, opcode)

    return answer


def respond(build: Callable[[Peer, dict[str, Any]], dict[str, Any]]) -> rawserver.Answer:
    def answer(peer: Peer, message: dict[str, Any]) -> None:
        peer.send_json({"request-id": message["request-id"], **build(peer, message)})

    return answer


def too_big(peer: Peer, message: dict[str, Any]) -> None:
    # The header announces 65 MiB; the client must refuse it without reading it all.
    peer.send(Peer.frame_header(1, 65 << 20) + b'{"request-id": 1, "response": {"x": "')
    peer.idle()


def login_without(field: str) -> rawserver.Answer:
    def build(peer: Peer, message: dict[str, Any]) -> dict[str, Any]:
        result = rawserver.login_result(peer.port)
        del result[field]
        return {"response": result}

    return respond(build)


def login_with(**changes: Any) -> rawserver.Answer:
    def build(peer: Peer, message: dict[str, Any]) -> dict[str, Any]:
        return {"response": {**rawserver.login_result(peer.port), **changes}}

    return respond(build)


LOGIN_CASES: list[tuple[str, rawserver.Answer, str]] = [
    ("invalid JSON", reply(b'{"request-id": 1, "response": {'), "is not valid JSON"),
    ("a JSON list", reply(b"[1, 2, 3]"), "is not a JSON object"),
    ("binary garbage", reply(bytes(range(256)), opcode=2), "is not valid JSON"),
    ("no server-version", login_without("server-version"), "no server-version"),
    ("no controller-tag", login_without("controller-tag"), "no controller-tag"),
    ("facades of the wrong type", login_with(facades="Backups"), "facades is not a list"),
    (
        "facade versions of the wrong type",
        login_with(facades=[{"name": "Backups", "versions": ["3"]}]),
        "versions are not integers",
    ),
    ("user-info of the wrong type", login_with(**{"user-info": ["superuser"]}), "user-info"),
    ("error of the wrong type", respond(lambda p, m: {"error": {"oops": 1}}), "malformed"),
    ("a frame larger than the limit", too_big, "larger than"),
]


@pytest.mark.parametrize(("case", "login", "said"), LOGIN_CASES, ids=[c[0] for c in LOGIN_CASES])
def test_malformed_login_answer(
    controller: Callable[..., RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
    case: str,
    login: rawserver.Answer,
    said: str,
) -> None:
    server = controller(login=login)

    run = run_against(server, authority, charm)

    assert not run.ok
    assert said in run.message
    assert run.message.startswith("the controller's answer made no sense while logging in: ")
    assert not any(m.get("request") == "Create" for m in server.messages)
    found = losses(charm.root())
    record(f"Login answer: {case}", run.describe(), lost_text(found))
    assert found == []


def create_meta(**override: Any) -> rawserver.Answer:
    return respond(lambda p, m: {"response": rawserver.archive_metadata(BODY, **override)})


def create_without(field: str) -> rawserver.Answer:
    def build(peer: Peer, message: dict[str, Any]) -> dict[str, Any]:
        meta = rawserver.archive_metadata(BODY)
        del meta[field]
        return {"response": meta}

    return respond(build)


CREATE_CASES: list[tuple[str, rawserver.Answer, str]] = [
    ("invalid JSON", reply(b'{"request-id": 2, "response": {"id": '), "is not valid JSON"),
    ("response is a list", respond(lambda p, m: {"response": [1]}), "is not a JSON object"),
    ("an empty response", respond(lambda p, m: {"response": {}}), "id: Field required"),
    ("no checksum", create_without("checksum"), "checksum: Field required"),
    ("size of the wrong type", create_meta(size="1024"), "size: Input should be a valid int"),
    ("a negative size", create_meta(size=-1), "size: Input should be greater than"),
    ("checksum of the wrong type", create_meta(checksum=42), "checksum: Input should be"),
    ("started is not a time", create_meta(started="yesterday"), "not an RFC 3339 time"),
    ("a frame larger than the limit", too_big, "larger than"),
]


@pytest.mark.parametrize(
    ("case", "create", "said"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES]
)
def test_malformed_create_answer(
    controller: Callable[..., RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
    case: str,
    create: rawserver.Answer,
    said: str,
) -> None:
    server = controller(create=create, download=rawserver.serve_bytes(BODY))

    run = run_against(server, authority, charm)

    assert not run.ok
    assert said in run.message
    assert "made no sense while creating the backup" in run.message
    assert server.downloads == []
    found = losses(charm.root())
    record(f"Create answer: {case}", run.describe(), lost_text(found))
    assert found == []


HOSTILE_IDS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".hidden",
    "id\x00with-nul",
    "line\nbreak",
    "x" * 300,
    "{app.__class__}",
]


@pytest.mark.parametrize("backup_id", HOSTILE_IDS, ids=[repr(i)[:30] for i in HOSTILE_IDS])
def test_hostile_backup_id_from_the_controller(
    controller: Callable[..., RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
    backup_id: str,
) -> None:
    server = controller(create=create_meta(id=backup_id), download=rawserver.serve_bytes(BODY))
    before = raw_state(server, authority)
    root = charm.root(before)
    outside = sorted(p.name for p in root.parent.iterdir())

    run = charm.action("create-backup", before)

    assert not run.ok
    assert run.message.startswith("cannot store backup ")
    assert "the archive stays on controller machine 0 (juju-controller-0)" in run.message
    assert "\x00" not in run.message
    assert "\n" not in run.message
    assert server.downloads == []  # never downloaded
    assert sorted(p.name for p in root.parent.iterdir()) == outside
    found = losses(root)
    shown = backup_id if len(backup_id) < 40 else f"{backup_id[:20]}... ({len(backup_id)} chars)"
    record(f"Create answers the id {shown!r}", run.describe(), lost_text(found))
    assert found == []


def test_error_answer_carrying_secrets(
    controller: Callable[..., RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
) -> None:
    # A controller that echoes the password and its CA key in an error: neither may pass on.
    text = f"backup failed for {CANARY_PASSWORD}:\n{authority.key_pem}"
    error = {
        "error": text,
        "error-code": "",
        "error-info": {"ca-private-key": authority.key_pem, "password": CANARY_PASSWORD},
    }
    server = controller(create=respond(lambda p, m: error))

    run = run_against(server, authority, charm)

    assert not run.ok
    assert run.message.startswith("the controller could not create the backup: backup failed")
    assert CANARY_PASSWORD not in run.message
    assert _marker(authority.key_pem) not in run.message
    assert "PRIVATE KEY-----" not in run.message
    found = losses(charm.root())
    record("Create error echoing the password and the CA key", run.describe(), lost_text(found))
    assert found == []


def test_create_answer_carrying_the_ca_key(
    controller: Callable[..., RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
) -> None:
    server = controller(
        create=create_meta(**{"ca-cert": authority.ca_pem, "ca-private-key": authority.key_pem}),
        download=rawserver.serve_bytes(BODY),
    )

    run = run_against(server, authority, charm)

    assert run.ok, run.message
    assert run.results is not None
    assert "ca-private-key" not in str(run.results)
    (entry,) = charm.catalogue().list()
    assert "ca-private-key" not in entry.metadata
    metadata_file = entry.archive.with_name(entry.archive.name.replace(".tar.gz", ".json"))
    assert "PRIVATE KEY" not in metadata_file.read_text()
    found = losses(charm.root())
    record("Create answer carrying ca-private-key", run.describe(), lost_text(found))
    assert found == []


def _checksum(body: bytes) -> str:
    return base64.b64encode(hashlib.sha1(body).digest()).decode()  # noqa: S324


DOWNLOAD_CASES: list[tuple[str, Any, str]] = [
    ("a download that never ends", rawserver.endless_download, "larger than the expected"),
    (
        "more bytes than the metadata's size",
        rawserver.serve_bytes(BODY + b"extra"),
        "larger than the expected",
    ),
    (
        "Content-Length promises more, then the connection closes",
        rawserver.serve_bytes(BODY[:100], length=len(BODY)),
        "cut short",
    ),
    ("the body stalls", rawserver.serve_bytes(BODY[:100], then_stall=True), "stalled"),
    ("an HTTP error with no JSON body", None, "refused (HTTP 404)"),
]


@pytest.mark.parametrize(
    ("case", "download", "said"), DOWNLOAD_CASES, ids=[c[0] for c in DOWNLOAD_CASES]
)
def test_malformed_download(
    controller: Callable[..., RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
    case: str,
    download: Any,
    said: str,
) -> None:
    server = controller(create=create_meta(), download=download)

    run = run_against(server, authority, charm)

    assert not run.ok
    assert said in run.message
    assert run.message.startswith("the download of backup ")
    assert isinstance(run.status, testing.ActiveStatus)
    found = losses(charm.root())
    record(f"download: {case}", run.describe(), lost_text(found))
    assert found == []
    assert charm.catalogue().list() == []


ODD_METADATA: list[tuple[str, dict[str, Any]]] = [
    ("notes with NUL and escapes", {"notes": "a\x00b\x1b[2Jc"}),
    ("notes of 200 kB", {"notes": "n" * 200_000}),
    ("hostname with NUL", {"hostname": "host\x00name"}),
    ("a version of 200 kB", {"version": "3." * 100_000}),
    ("a filename with traversal", {"filename": "/tmp/../../etc/shadow"}),
]


@pytest.mark.parametrize(("case", "fields"), ODD_METADATA, ids=[c[0] for c in ODD_METADATA])
def test_odd_metadata_from_the_controller(
    controller: Callable[..., RawServer],
    authority: Authority,
    charm: Charm,
    record: Record,
    case: str,
    fields: dict[str, Any],
) -> None:
    # Well-typed, so the client takes it; what reaches results, logs and files must still be
    # something Juju's hook tools accept (the harness checks every run for that).
    server = controller(create=create_meta(**fields), download=rawserver.serve_bytes(BODY))

    run = run_against(server, authority, charm)

    entries = charm.catalogue().list()
    assert run.ok == bool(entries), run.message
    if "filename" in fields:
        # The download names the controller's file; the archive lands in the storage only.
        assert [r.body for r in server.downloads] == [b'{"id": "/tmp/../../etc/shadow"}']
        assert [e.archive.parent for e in entries] == [charm.root()]
    found = losses(charm.root())
    record(f"Create answer: {case}", run.describe(), lost_text(found))
    assert found == []
