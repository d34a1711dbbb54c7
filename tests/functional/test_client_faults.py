"""juju_api against the simulator's faults, refusals, HA, redirects and TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import juju_api
from juju_api import Backups, Connection, with_retries
from juju_api import errors as e
from tests.conftest import MakeSim
from tests.jujusim import Simulator

from .test_client_profiles import Clock

ARCHIVE = 256 << 10


def start(make_sim: MakeSim, version: str = "3.6.27", **kw: object) -> Simulator:
    sim = make_sim(version, archive_size=kw.pop("archive_size", ARCHIVE), **kw)
    sim.set_clock(Clock())
    return sim


@pytest.fixture
def opened() -> Iterator[list[Connection]]:
    conns: list[Connection] = []
    yield conns
    for conn in conns:
        conn.close()


def model_connect(
    sim: Simulator,
    opened: list[Connection],
    *,
    endpoints: list[str] | None = None,
    timeout: float = 30.0,
) -> Connection:
    conn = juju_api.connect(
        endpoints or sim.endpoints,
        sim.ca_cert,
        sim.username,
        sim.password,
        model_uuid=sim.controller_model_uuid,
        timeout=timeout,
    )
    opened.append(conn)
    return conn


def nothing_left(directory: Path) -> bool:
    return not any(directory.iterdir())


# -- error answers and retries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        ("try again", "try again", e.TryAgain),
        ("upgrade in progress", "upgrade in progress", e.UpgradeInProgress),
        ("", "HA not ready; try again later", e.HANotReady),
        ("not found", "whatever went missing", e.NotFound),
        ("unauthorized access", "permission denied", e.Unauthorized),
        ("forbidden", "forbidden", e.Forbidden),
    ],
)
def test_injected_errors_are_typed(
    make_sim: MakeSim, opened: list[Connection], code: str, message: str, error: type[e.APIError]
):
    sim = start(make_sim)
    conn = model_connect(sim, opened)
    sim.fail_next("Backups", "Create", code, message)
    with pytest.raises(error) as exc:
        Backups(conn).create()
    assert str(exc.value) == message
    assert exc.value.code == code
    # The connection is still good: the next Create works.
    assert Backups(conn).create().size > 0


@pytest.mark.parametrize("version", ["2.8.11", "3.6.27"])
def test_retryable_refusals_are_retried_with_backoff(
    make_sim: MakeSim, opened: list[Connection], version: str
):
    sim = start(make_sim, version)
    conn = model_connect(sim, opened)
    sim.fail_next("Backups", "Create", "", "HA not ready; try again later")
    sim.fail_next("Backups", "Create", "upgrade in progress", "upgrade in progress")
    slept: list[float] = []
    b = Backups(conn)
    meta = with_retries(lambda: b.create("retried"), attempts=3, backoff=0.5, sleep=slept.append)
    assert meta.notes == "retried"
    assert slept == [0.5, 1.0]
    assert [c.method for c in sim.calls if c.facade == "Backups"] == ["Create"] * 3


def test_retries_give_up(make_sim: MakeSim, opened: list[Connection]):
    sim = start(make_sim)
    conn = model_connect(sim, opened)
    sim.fail_next("Backups", "Create", "try again", "try again", times=5)
    b = Backups(conn)
    with pytest.raises(e.TryAgain):
        with_retries(b.create, attempts=3, backoff=0.01, sleep=lambda _s: None)
    assert len([c for c in sim.calls if c.method == "Create"]) == 3


def test_a_dropped_connection_is_connection_failed(make_sim: MakeSim, opened: list[Connection]):
    sim = start(make_sim)
    conn = model_connect(sim, opened)
    sim.drop_next("Backups", "Create")
    b = Backups(conn)
    with pytest.raises(e.ConnectionFailed):
        b.create()
    assert conn.closed
    # Not retried by with_retries: the Create may have happened.
    again = model_connect(sim, opened)
    sim.drop_next("Backups", "Create")
    with pytest.raises(e.ConnectionFailed):
        with_retries(Backups(again).create, attempts=3, sleep=lambda _s: pytest.fail("retried"))


def test_a_slow_answer_times_out_and_the_connection_survives(
    make_sim: MakeSim, opened: list[Connection]
):
    sim = start(make_sim)
    conn = model_connect(sim, opened)
    sim.delay_next("Backups", "Create", 1.5)
    b = Backups(conn)
    with pytest.raises(e.CallTimeout, match=r"no answer to Backups\(3\)\.Create"):
        b.create("slow", timeout=0.3)
    assert not conn.closed
    conn.ping()  # the late answer to Create, when it comes, is not taken for this one
    meta = b.create("after")
    assert meta.notes == "after"


def test_ping_keeps_working_on_a_long_connection(make_sim: MakeSim, opened: list[Connection]):
    sim = start(make_sim)
    conn = model_connect(sim, opened)
    for _ in range(5):
        conn.ping()
    assert [c.method for c in sim.calls if c.facade == "Pinger"] == ["Ping"] * 5


# -- download faults --------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.8.11", "3.6.27"])
def test_truncated_download_leaves_nothing(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path, version: str
):
    sim = start(make_sim, version)
    conn = model_connect(sim, opened)
    b = Backups(conn)
    meta = b.create()
    sim.download_fault(truncate_at=meta.size // 3)
    with pytest.raises(e.DownloadError) as exc:
        conn.download(
            b.download_id(meta),
            tmp_path / "a.tar.gz",
            expected_checksum=meta.checksum,
            expected_size=meta.size,
        )
    assert not isinstance(exc.value, e.ChecksumMismatch)
    assert "cut short" in str(exc.value)
    assert nothing_left(tmp_path)


def test_corrupt_download_is_a_checksum_mismatch(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path
):
    sim = start(make_sim)
    conn = model_connect(sim, opened)
    b = Backups(conn)
    meta = b.create()
    sim.download_fault(corrupt=True)
    with pytest.raises(e.ChecksumMismatch) as exc:
        conn.download(
            b.download_id(meta),
            tmp_path / "a.tar.gz",
            expected_checksum=meta.checksum,
            expected_size=meta.size,
        )
    assert exc.value.expected == meta.checksum
    assert exc.value.actual != meta.checksum
    assert nothing_left(tmp_path)


def test_slow_download_completes_with_progress(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path
):
    sim = start(make_sim, archive_size=64 << 10)
    conn = model_connect(sim, opened)
    b = Backups(conn)
    meta = b.create()
    sim.download_fault(bytes_per_second=400_000)
    seen: list[tuple[int, int | None]] = []
    result = conn.download(
        b.download_id(meta),
        tmp_path / "a.tar.gz",
        expected_checksum=meta.checksum,
        expected_size=meta.size,
        progress=lambda n, t: seen.append((n, t)),
        chunk_size=4096,
    )
    assert result.checksum == meta.checksum
    assert len(seen) > 5
    assert seen[-1] == (meta.size, meta.size)


def test_stalled_download_fails_and_leaves_nothing(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path
):
    sim = start(make_sim, archive_size=64 << 10)
    conn = model_connect(sim, opened)
    b = Backups(conn)
    meta = b.create()
    sim.download_fault(bytes_per_second=20)  # a couple of bytes every tenth of a second
    with pytest.raises(e.DownloadError, match="stalled"):
        conn.download(
            b.download_id(meta),
            tmp_path / "a.tar.gz",
            expected_checksum=meta.checksum,
            timeout=0.03,
        )
    assert nothing_left(tmp_path)


def test_download_of_an_unknown_backup(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path
):
    sim = start(make_sim, "2.8.11")
    conn = model_connect(sim, opened)
    with pytest.raises(e.DownloadError) as exc:
        conn.download("20200101-000000.nope", tmp_path / "a", expected_checksum=None)
    assert exc.value.status == 404
    assert exc.value.code == "not found"
    assert 'backup metadata "20200101-000000.nope" not found' in str(exc.value)
    assert nothing_left(tmp_path)


# -- HA ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.8.11", "2.9.22", "3.6.27"])
def test_ha_download_from_the_node_that_made_the_backup(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path, version: str
):
    sim = start(make_sim, version, ha=3)
    # Connect to the second machine: the archive is made on its disk.
    conn = model_connect(sim, opened, endpoints=[sim.endpoints[1]])
    assert conn.servers == sim.endpoints
    b = Backups(conn)
    meta = b.create("ha")
    if meta.filename and version >= "2.9.22":
        assert Path(meta.filename).parent == sim.backup_dir(1)
    # Another machine does not have it.
    other = model_connect(sim, opened, endpoints=[sim.endpoints[2]])
    with pytest.raises(e.DownloadError) as exc:
        other.download(b.download_id(meta), tmp_path / "x", expected_checksum=meta.checksum)
    assert exc.value.status in (404, 500)
    assert nothing_left(tmp_path)
    # The machine that served Create does.
    result = conn.download(
        b.download_id(meta),
        tmp_path / "a",
        expected_checksum=meta.checksum,
        expected_size=meta.size,
    )
    assert result.size == meta.size
    assert {c.node for c in sim.calls if c.facade == "HTTP"} == {1, 2}


def test_connect_skips_a_dead_endpoint(make_sim: MakeSim, opened: list[Connection]):
    sim = start(make_sim, ha=2)
    dead = make_sim("3.6.27")
    dead_endpoint = dead.endpoints[0]
    dead.stop()
    conn = model_connect(sim, opened, endpoints=[dead_endpoint, sim.endpoints[1]])
    assert conn.endpoint == sim.endpoints[1]


def test_all_endpoints_dead(make_sim: MakeSim):
    dead = make_sim("3.6.27")
    endpoint, ca = dead.endpoints[0], dead.ca_cert
    dead.stop()
    with pytest.raises(e.ConnectionFailed) as exc:
        juju_api.connect([endpoint], ca, "admin", "pw", timeout=2)
    assert type(exc.value) is e.ConnectionFailed
    assert endpoint in str(exc.value)


# -- redirects --------------------------------------------------------------------------------


def test_redirect_is_followed_once_with_the_new_ca(make_sim: MakeSim):
    old = start(make_sim, "3.6.27")
    new = start(make_sim, "3.6.27")
    new.add_user(old.username, old.password, superuser=True)
    old.redirect_to(new)
    with juju_api.connect(old.endpoints, old.ca_cert, old.username, old.password) as conn:
        assert conn.endpoint in new.endpoints
        assert conn.ca_cert == new.ca_cert
        assert conn.controller_uuid == new.controller_uuid
        assert juju_api.find_controller_model(conn).uuid == new.controller_model_uuid
    # The first login was answered with the redirect, the second made on the new controller.
    assert [c.method for c in old.calls] == ["Login"]
    assert [c.method for c in new.calls][:1] == ["Login"]


def test_a_second_redirect_is_not_followed(make_sim: MakeSim):
    first = start(make_sim)
    second = start(make_sim)
    third = start(make_sim)
    first.redirect_to(second)
    second.redirect_to(third)
    with pytest.raises(e.RedirectRequired, match="redirected twice"):
        juju_api.connect(first.endpoints, first.ca_cert, first.username, first.password)
    assert third.calls == []


# -- TLS, credentials, permissions ------------------------------------------------------------


def test_wrong_ca_is_a_tls_failure(make_sim: MakeSim, tmp_path: Path):
    sim = start(make_sim)
    other = start(make_sim)
    with pytest.raises(e.TLSVerificationFailed, match="juju-apiserver"):
        juju_api.connect(sim.endpoints, other.ca_cert, sim.username, sim.password)
    with pytest.raises(e.TLSVerificationFailed):
        juju_api.download_backup(
            endpoint=sim.endpoints[0],
            ca_cert=other.ca_cert,
            model_uuid=sim.controller_model_uuid,
            username=sim.username,
            password=sim.password,
            backup_id="x",
            dest=tmp_path / "a",
            expected_checksum=None,
        )
    assert nothing_left(tmp_path)
    assert sim.calls == []


def test_wrong_password_is_unauthorized(make_sim: MakeSim, tmp_path: Path):
    sim = start(make_sim)
    wrong = "not-the-password"
    with pytest.raises(e.Unauthorized) as exc:
        juju_api.connect(sim.endpoints, sim.ca_cert, sim.username, wrong)
    assert wrong not in str(exc.value)
    with pytest.raises(e.DownloadError) as dl:
        juju_api.download_backup(
            endpoint=sim.endpoints[0],
            ca_cert=sim.ca_cert,
            model_uuid=sim.controller_model_uuid,
            username=sim.username,
            password=wrong,
            backup_id="x",
            dest=tmp_path / "a",
            expected_checksum=None,
        )
    assert dl.value.status == 401
    assert dl.value.code == "unauthorized access"
    assert wrong not in str(dl.value)


def test_a_user_without_superuser(make_sim: MakeSim, opened: list[Connection], tmp_path: Path):
    sim = start(make_sim, "2.9.60")
    sim.add_user("bob", "bobs-password", superuser=False)
    with juju_api.connect(sim.endpoints, sim.ca_cert, "bob", "bobs-password") as ctl:
        assert ctl.controller_access == "login"
        model = juju_api.find_controller_model(ctl)
    conn = juju_api.connect(
        sim.endpoints, sim.ca_cert, "bob", "bobs-password", model_uuid=model.uuid
    )
    opened.append(conn)
    with pytest.raises(e.Unauthorized, match="permission denied"):
        Backups(conn).create()
    with pytest.raises(e.DownloadError) as exc:
        conn.download("/tmp/juju-backup-x.tar.gz", tmp_path / "a", expected_checksum=None)
    assert exc.value.status == 401


def test_a_user_without_model_access_cannot_log_in_to_it(make_sim: MakeSim):
    sim = start(make_sim)
    sim.add_user("carol", "carols-password", superuser=False, model_access="")
    with pytest.raises(e.Unauthorized):
        juju_api.connect(
            sim.endpoints,
            sim.ca_cert,
            "carol",
            "carols-password",
            model_uuid=sim.controller_model_uuid,
        )
    with (
        juju_api.connect(sim.endpoints, sim.ca_cert, "carol", "carols-password") as ctl,
        pytest.raises(e.NotFound, match="superuser"),
    ):
        juju_api.find_controller_model(ctl)


@pytest.mark.parametrize("version", ["2.8.11", "3.6.27"])
def test_kubernetes_controllers_refuse_backups(
    make_sim: MakeSim, opened: list[Connection], version: str
):
    sim = start(make_sim, version)
    sim.kubernetes = True
    with juju_api.connect(sim.endpoints, sim.ca_cert, sim.username, sim.password) as ctl:
        assert juju_api.find_controller_model(ctl).type == "caas"
    conn = model_connect(sim, opened)
    with pytest.raises(e.NotSupported, match="kubernetes"):
        Backups(conn).create()
