"""TLS: the wrong CA, the wrong name, an expired certificate: refused, with no way around it.

The server here completes TLS with whatever certificate the case gives it and records whether
any application data (an HTTP request) ever arrived: a refused connection must send nothing,
so the password never leaves the unit.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from ops import testing

import juju_api
from config import Credentials
from juju_api import errors
from tests.faults import rawserver
from tests.faults.conftest import Record
from tests.faults.harness import (
    CANARY_PASSWORD,
    CANARY_USER,
    Charm,
    Exposure,
    credentials,
    losses,
    lost_text,
    state,
)
from tests.faults.rawserver import Authority, RawServer, ServerCert

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trusted() -> Authority:
    return Authority("trusted-ca")


@pytest.fixture
def serve(exposure: Exposure) -> Iterator[Callable[[ServerCert], RawServer]]:
    servers: list[RawServer] = []
    exposure.secret("the canary password", CANARY_PASSWORD)

    def start(cert: ServerCert) -> RawServer:
        server = RawServer(rawserver.scripted_controller(), cert)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def certificate(case: str, trusted: Authority) -> ServerCert:
    if case == "a CA the charm was not given":
        return Authority("rogue-ca").issue()
    if case == "no juju-apiserver name (localhost and 127.0.0.1 only)":
        return trusted.issue(names=("localhost",))
    if case == "expired yesterday":
        return trusted.issue(days_valid=(-30, -1))
    if case == "not valid until tomorrow":
        return trusted.issue(days_valid=(1, 30))
    raise AssertionError(case)


CASES = [
    "a CA the charm was not given",
    "no juju-apiserver name (localhost and 127.0.0.1 only)",
    "expired yesterday",
    "not valid until tomorrow",
]
REASONS = {
    CASES[0]: "unable to get local issuer certificate",
    CASES[1]: "Hostname mismatch",
    CASES[2]: "certificate has expired",
    CASES[3]: "certificate is not yet valid",
}


@pytest.mark.parametrize("case", CASES)
def test_charm_refuses_the_certificate(
    serve: Callable[[ServerCert], RawServer],
    trusted: Authority,
    charm: Charm,
    record: Record,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: str,
) -> None:
    server = serve(certificate(case, trusted))
    # Whatever the environment says about trust, the pinned CA alone decides.
    rogue = tmp_path / "rogue.pem"
    rogue.write_text(Authority("env-ca").ca_pem)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(rogue))
    monkeypatch.setenv("PYTHONHTTPSVERIFY", "0")
    monkeypatch.setenv("HTTPS_PROXY", f"http://{server.endpoint}")

    run = charm.action(
        "create-backup",
        state(credentials(server.endpoint, trusted.ca_pem), **{"controller-model-uuid": ""}),
    )

    assert not run.ok
    assert run.message.startswith(
        f"the ca-cert in the secret does not match the controller at {server.endpoint} ("
    )
    assert REASONS[case] in run.message
    assert isinstance(run.status, testing.BlockedStatus)
    assert server.requests == []  # not even the WebSocket upgrade: nothing was sent
    found = losses(charm.root())
    record(f"TLS: {case}", run.describe(), lost_text(found))
    assert found == []


@pytest.mark.parametrize("case", CASES)
def test_download_refuses_the_certificate(
    serve: Callable[[ServerCert], RawServer],
    trusted: Authority,
    record: Record,
    tmp_path: Path,
    case: str,
) -> None:
    server = serve(certificate(case, trusted))
    dest = tmp_path / "archives" / "juju-backup-20261204-161500.tar.gz"
    dest.parent.mkdir()

    with pytest.raises(errors.TLSVerificationFailed) as refused:
        juju_api.download_backup(
            endpoint=server.endpoint,
            ca_cert=trusted.ca_pem,
            model_uuid=rawserver.MODEL_UUID,
            username=CANARY_USER,
            password=CANARY_PASSWORD,
            backup_id="juju-backup-20261204-161500.tar.gz",
            dest=dest,
            expected_checksum=None,
            timeout=5,
        )

    assert REASONS[case] in str(refused.value)
    assert server.requests == []  # the Basic auth header never left
    left = sorted(p.name for p in dest.parent.iterdir())
    record(f"TLS (download): {case}", f"TLSVerificationFailed: {refused.value}", lost_text(left))
    assert left == []


def test_the_same_server_with_a_good_certificate_is_accepted(
    serve: Callable[[ServerCert], RawServer], trusted: Authority, record: Record
) -> None:
    # The control case: the refusals above come from the certificates, not from the server.
    server = serve(trusted.issue())

    conn = juju_api.connect(
        [server.endpoint],
        trusted.ca_pem,
        CANARY_USER,
        CANARY_PASSWORD,
        model_uuid=rawserver.MODEL_UUID,
        timeout=5,
    )
    conn.close()

    assert conn.server_version == rawserver.SERVER_VERSION
    assert len(server.requests) == 1
    record("TLS: the control, a good certificate", "connected and logged in", "no")


def test_there_is_no_way_to_turn_verification_off(record: Record) -> None:
    options = set(yaml.safe_load((ROOT / "config.yaml").read_text())["options"])
    knobs = {"insecure", "verify", "skip", "tls", "ssl", "no-check"}
    assert not [o for o in options if any(k in o for k in knobs)], options
    # The secret takes exactly these keys: anything else is refused by name.
    assert {f.alias or name for name, f in Credentials.model_fields.items()} == {
        "username",
        "password",
        "endpoints",
        "ca-cert",
    }
    assert Credentials.model_config.get("extra") == "forbid"
    # Neither the client's connect nor its download take a context, a flag or a hostname.
    for fn in (juju_api.connect, juju_api.download_backup):
        params = set(inspect.signature(fn).parameters)
        assert not params & {"ssl", "ssl_context", "context", "verify", "insecure", "hostname"}
    record(
        "TLS: any option, secret key or parameter to turn verification off?",
        f"none: config options {sorted(options)}; secret keys username, password, endpoints, "
        "ca-cert (others refused); connect/download take no TLS context or flag",
        "no",
    )
