"""Controller-side faults, through the whole charm against the simulated controller."""

from __future__ import annotations

import datetime
import socket
import time
from collections.abc import Callable

import pytest
from ops import testing

from tests.faults.conftest import Record
from tests.faults.harness import Charm, losses, lost_text, sim_credentials, state
from tests.jujusim import Simulator

Start = Callable[..., Simulator]
LOST_ON_3X = (
    "that new backup: 2.9.22+ controllers delete the archive once its download starts "
    "(the failure says so)"
)


def creates(sim: Simulator) -> int:
    return sum(1 for c in sim.calls if (c.facade, c.method) == ("Backups", "Create"))


def logins(sim: Simulator) -> int:
    return sum(1 for c in sim.calls if (c.facade, c.method) == ("Admin", "Login"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- unreachable, dropped -------------------------------------------------------------------------


def test_connection_refused(controller: Start, charm: Charm, record: Record) -> None:
    sim = controller()
    dead = f"127.0.0.1:{closed_port()}"

    run = charm.action("create-backup", state(sim_credentials(sim, endpoints=dead)))

    assert not run.ok
    assert run.message.startswith(f"cannot reach the controller at {dead} (")
    assert "Connection refused" in run.message
    assert run.message.endswith("the charm tries again later")
    assert run.status == testing.WaitingStatus(run.message)
    found = losses(charm.root())
    record("connection refused", run.describe(), lost_text(found))
    assert found == []
    assert sim.calls == []


def test_first_endpoint_refused_next_one_serves(
    controller: Start, charm: Charm, record: Record
) -> None:
    sim = controller()
    dead = f"127.0.0.1:{closed_port()}"
    endpoints = f"{dead},{sim.endpoints[0]}"

    run = charm.action("create-backup", state(sim_credentials(sim, endpoints=endpoints)))

    assert run.ok, run.message
    assert run.results is not None
    assert run.results["downloaded-from"] == sim.endpoints[0]
    found = losses(charm.root())
    record("first API address refused, the next serves", run.describe(), lost_text(found))
    assert found == []
    assert [e.id for e in charm.catalogue().list()] == [run.results["backup-id"]]


@pytest.mark.parametrize(("drops", "succeeds"), [(1, True), (6, False)])
def test_dropped_during_login(
    controller: Start, charm: Charm, record: Record, drops: int, succeeds: bool
) -> None:
    sim = controller()
    sim.drop_next("Admin", "Login", times=drops)

    run = charm.action("create-backup", state(sim_credentials(sim)))

    found = losses(charm.root())
    record(f"connection dropped during Login ({drops}x)", run.describe(), lost_text(found))
    assert found == []
    if succeeds:
        assert run.ok, run.message
        assert creates(sim) == 1
    else:
        assert run.message.startswith(f"cannot reach the controller at {sim.endpoints[0]} (")
        assert "closed during Admin(3).Login" in run.message
        assert isinstance(run.status, testing.WaitingStatus)
        assert logins(sim) == 3  # bounded: three attempts, then Waiting
        assert creates(sim) == 0


def test_dropped_during_create(controller: Start, charm: Charm, record: Record) -> None:
    sim = controller()
    sim.drop_next("Backups", "Create")

    run = charm.action("create-backup", state(sim_credentials(sim)))

    assert run.message.startswith(f"lost the controller at {sim.endpoints[0]} while it was")
    assert "It may have made the backup anyway: look for a new juju-backup-*.tar.gz" in run.message
    assert isinstance(run.status, testing.WaitingStatus)
    assert creates(sim) == 1  # never sent twice: the controller may have made it
    found = losses(charm.root())
    record("connection dropped during Create", run.describe(), lost_text(found))
    assert found == []


@pytest.mark.parametrize(
    ("version", "keep_copy"), [("3.6.27", False), ("2.8.11", True)], ids=["3.6.27", "2.8.11"]
)
def test_dropped_during_download(
    controller: Start, charm: Charm, record: Record, version: str, keep_copy: bool
) -> None:
    sim = controller(version, archive_size=1 << 20)
    sim.download_fault(truncate_at=300_000)

    run = charm.action("create-backup", state(sim_credentials(sim)), **{"keep-copy": keep_copy})

    assert run.message.startswith("the download of backup ")
    assert "was cut short" in run.message
    assert "nothing was kept" in run.message
    found = losses(charm.root())
    assert found == []
    assert charm.catalogue().list() == []
    if keep_copy:
        # The controller kept its copy: nothing lost, the message says to run it again.
        assert run.message.endswith("nothing was kept. Run create-backup again.")
        assert len(sim.stored_backups) == 1
        expected = ""
    else:
        assert "this backup is lost: run create-backup again" in run.message
        assert list(sim.backup_dir(0).iterdir()) == []
        expected = LOST_ON_3X
    record(
        f"connection dropped during the download ({version}{', keep-copy' if keep_copy else ''})",
        run.describe(),
        lost_text(found, expected),
    )


# -- refusals answered several times -------------------------------------------------------

REFUSALS = [
    ("try again", "try again"),
    ("upgrade in progress", "upgrade in progress"),
    ("", "HA not ready; try again later"),
]


@pytest.mark.parametrize(("code", "message"), REFUSALS, ids=["try-again", "upgrade", "ha"])
@pytest.mark.parametrize("times", [2, 3], ids=["then-succeeds", "gives-up"])
def test_create_refused_several_times(
    controller: Start, charm: Charm, record: Record, code: str, message: str, times: int
) -> None:
    sim = controller()
    sim.fail_next("Backups", "Create", code, message, times=times)

    run = charm.action("create-backup", state(sim_credentials(sim)))

    found = losses(charm.root())
    record(f"Create answers {message!r} {times}x", run.describe(), lost_text(found))
    assert found == []
    assert creates(sim) == 3
    if times < 3:
        assert run.ok, run.message
        assert len(charm.catalogue().list()) == 1
    else:
        assert run.message == (
            f"the controller could not take a backup now ({message}); try again later"
        )
        assert run.status == testing.WaitingStatus(run.message)


@pytest.mark.parametrize("times", [2, 6], ids=["then-succeeds", "gives-up"])
def test_login_upgrade_in_progress(
    controller: Start, charm: Charm, record: Record, times: int
) -> None:
    sim = controller()
    sim.fail_next("Admin", "Login", "upgrade in progress", "upgrade in progress", times=times)

    run = charm.action("create-backup", state(sim_credentials(sim)))

    found = losses(charm.root())
    record(f"Login answers 'upgrade in progress' {times}x", run.describe(), lost_text(found))
    assert found == []
    if times < 3:
        assert run.ok, run.message
    else:
        assert run.message == (
            f"cannot reach the controller at {sim.endpoints[0]} (upgrade in progress); the "
            "charm tries again later"
        )
        assert isinstance(run.status, testing.WaitingStatus)
        assert creates(sim) == 0


# -- redirect ------------------------------------------------------------------------------------


def test_redirect_is_followed_once(controller: Start, charm: Charm, record: Record) -> None:
    old = controller()
    new = controller()
    old.redirect_to(new)

    run = charm.action("create-backup", state(sim_credentials(old)))

    assert run.ok, run.message
    assert run.results is not None
    assert run.results["downloaded-from"] in new.endpoints
    assert creates(old) == 0
    assert creates(new) == 1
    found = losses(charm.root())
    record("Login redirected to another controller", run.describe(), lost_text(found))
    assert found == []


def test_redirect_loop_is_not_followed(controller: Start, charm: Charm, record: Record) -> None:
    first = controller()
    second = controller()
    first.redirect_to(second)
    second.redirect_to(first)

    run = charm.action("create-backup", state(sim_credentials(first)))

    assert not run.ok
    assert "redirected twice" in run.message
    assert creates(first) + creates(second) == 0
    assert logins(first) <= 2
    found = losses(charm.root())
    record("two controllers redirecting to each other", run.describe(), lost_text(found))
    assert found == []


# -- slow answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("times", [1, 3], ids=["then-succeeds", "gives-up"])
def test_slow_login(controller: Start, charm: Charm, record: Record, times: int) -> None:
    sim = controller()
    sim.delay_next("Admin", "Login", 2.0, times=times)

    run = charm.action("create-backup", state(sim_credentials(sim), timeout=1))

    found = losses(charm.root())
    record(f"Login answered after the timeout ({times}x)", run.describe(), lost_text(found))
    assert found == []
    if times == 1:
        assert run.ok, run.message
    else:
        assert run.message.startswith(f"cannot reach the controller at {sim.endpoints[0]} (")
        assert "no answer to Admin(3).Login" in run.message
        assert isinstance(run.status, testing.WaitingStatus)
        assert creates(sim) == 0


def test_slow_create(controller: Start, charm: Charm, record: Record) -> None:
    sim = controller()
    sim.delay_next("Backups", "Create", 2.0)

    run = charm.action(
        "create-backup", state(sim_credentials(sim), timeout=5, **{"create-timeout": 1})
    )

    assert run.message.startswith(f"lost the controller at {sim.endpoints[0]} while it was")
    assert "no answer to Backups(3).Create" in run.message
    assert "look for a new juju-backup-*.tar.gz in the controller model's backup-dir" in (
        run.message
    )
    assert creates(sim) == 1
    assert run.status == testing.WaitingStatus(run.message)
    time.sleep(2.5)  # past the delay: whatever the controller does with the late Create is done
    late = [p.name for p in sim.backup_dir(0).iterdir()]
    found = losses(charm.root())
    record(
        "Create answered after create-timeout",
        run.describe(),
        lost_text(found, f"no; a late archive stays on the controller: {late}" if late else ""),
    )
    assert found == []
    assert charm.catalogue().list() == []


# -- the archive's bytes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "keep_copy"), [("3.6.27", False), ("2.8.11", True)], ids=["3.6.27", "2.8.11"]
)
def test_checksum_mismatch(
    controller: Start, charm: Charm, record: Record, version: str, keep_copy: bool
) -> None:
    sim = controller(version)
    first = charm.action("create-backup", state(sim_credentials(sim)))
    assert first.ok, first.message
    assert first.results is not None
    earlier = first.results["backup-id"]
    sim.set_clock(_minutes_later(5))
    sim.download_fault(corrupt=True)

    run = charm.action("create-backup", first.state, **{"keep-copy": keep_copy})

    assert "does not match the checksum the controller reported (expected " in run.message
    assert "the download was discarded" in run.message
    # The earlier backup is untouched and still verifies; nothing of the bad one is listed.
    assert [e.id for e in charm.catalogue().list()] == [earlier]
    found = losses(charm.root(), kept_before=[earlier])
    assert found == []
    expected = "" if keep_copy else LOST_ON_3X
    if keep_copy:
        # The controller kept its copy of the backup whose download went wrong.
        assert len(sim.stored_backups) == 1
        assert earlier not in sim.stored_backups
    record(
        f"downloaded bytes do not match the checksum ({version})",
        run.describe(),
        lost_text(found, expected),
    )


def _minutes_later(minutes: int) -> Callable[[], datetime.datetime]:
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return lambda: later
