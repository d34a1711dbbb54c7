"""create-backup failures against the simulated controller: each message, status and leftovers.

Every failure the operator can meet must say what went wrong and what to do, set the status
that fits (Blocked: the operator must act; Waiting: it will pass; Active: only that attempt
failed), and leave nothing behind on the storage.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from ops import testing

import lock
import service
from catalogue import Catalogue
from charm import LOCK_NAME, JujuBackupsCharm
from tests.conftest import MakeSim
from tests.functional.test_charm_create import (
    charm_context,
    sim_secret,
    sim_state,
    storage_files,
    storage_root,
)
from tests.jujusim import Simulator


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RETRY_BACKOFF", 0.0)


def fails(
    ctx: testing.Context[JujuBackupsCharm], state: testing.State, **params: object
) -> tuple[str, testing.State]:
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("create-backup", params=params), state)
    after = failed.value.state
    assert isinstance(after, testing.State)
    return failed.value.message, after


def creates(sim: Simulator) -> int:
    return sum(1 for c in sim.calls if (c.facade, c.method) == ("Backups", "Create"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the operator must act: Blocked ------------------------------------------------------------


def test_wrong_password(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    ctx = charm_context()
    state = sim_state(sim_secret(sim, password="not-the-password"))

    message, after = fails(ctx, state)

    assert message.startswith(
        f"the controller at {sim.endpoints[0]} refused the login of user 'admin': check the "
        "password in the credentials secret (juju update-secret)"
    )
    assert "juju grant admin superuser" in message
    assert after.unit_status == testing.BlockedStatus(message)
    assert storage_files(storage_root(ctx, state)) == []
    assert creates(sim) == 0


def test_user_without_superuser(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    sim.add_user("backups", "backups-Pa55", superuser=False)
    ctx = charm_context()
    state = sim_state(sim_secret(sim, username="backups", password="backups-Pa55"))

    message, after = fails(ctx, state)

    assert message == (
        "user 'backups' has 'login' access to the controller, and backups need superuser: "
        "run `juju grant backups superuser`"
    )
    assert after.unit_status == testing.BlockedStatus(message)
    assert storage_files(storage_root(ctx, state)) == []
    assert creates(sim) == 0


def test_user_without_access_to_the_configured_controller_model(make_sim: MakeSim) -> None:
    sim = make_sim("2.9.60")
    sim.add_user("backups", "backups-Pa55", superuser=False, model_access="")
    ctx = charm_context()
    state = sim_state(
        sim_secret(sim, username="backups", password="backups-Pa55"),
        **{"controller-model-uuid": sim.controller_model_uuid},
    )

    message, after = fails(ctx, state)

    assert "refused the login of user 'backups'" in message
    assert "juju grant backups superuser" in message
    assert isinstance(after.unit_status, testing.BlockedStatus)
    assert storage_files(storage_root(ctx, state)) == []


def test_certificate_not_matching_the_ca(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    other = make_sim("3.6.27")
    ctx = charm_context()
    state = sim_state(sim_secret(sim, **{"ca-cert": other.ca_cert}))

    message, after = fails(ctx, state)

    assert message.startswith(
        f"the ca-cert in the secret does not match the controller at {sim.endpoints[0]} ("
    )
    assert "juju show-controller --show-password" in message
    assert after.unit_status == testing.BlockedStatus(message)
    assert storage_files(storage_root(ctx, state)) == []
    assert sim.calls == []  # nothing was sent to a server we could not verify


def test_kubernetes_controller_found_by_its_model_type(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    sim.kubernetes = True
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    message, after = fails(ctx, state)

    assert message.startswith("controller 3.6.27 is hosted on Kubernetes and Juju refuses backups")
    assert "point the credentials secret at a machine controller" in message
    assert after.unit_status == testing.BlockedStatus(message)
    assert storage_files(storage_root(ctx, state)) == []
    assert creates(sim) == 0


def test_kubernetes_controller_refusing_create(make_sim: MakeSim) -> None:
    # With the model configured there is no ListModels: the controller's own refusal counts.
    sim = make_sim("2.9.60")
    sim.kubernetes = True
    ctx = charm_context()
    state = sim_state(sim_secret(sim), **{"controller-model-uuid": sim.controller_model_uuid})

    message, after = fails(ctx, state)

    assert message.startswith("controller 2.9.60 is hosted on Kubernetes")
    assert "(backups on kubernetes controllers not supported)" in message
    assert after.unit_status == testing.BlockedStatus(message)
    assert creates(sim) == 1
    assert storage_files(storage_root(ctx, state)) == []


def test_juju_4_controller(make_sim: MakeSim) -> None:
    sim = make_sim("4.0.14")
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    message, after = fails(ctx, state)

    assert message.startswith(
        "controller 4.0.14 is Juju 4, whose backups are Dqlite-based and not offered through "
        "the API"
    )
    assert after.unit_status == testing.BlockedStatus(message)
    assert storage_files(storage_root(ctx, state)) == []


# -- it will pass: Waiting ---------------------------------------------------------------------


def test_controller_unreachable(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    port = closed_port()
    ctx = charm_context()
    state = sim_state(sim_secret(sim, endpoints=f"127.0.0.1:{port}"))

    message, after = fails(ctx, state)

    assert message.startswith(f"cannot reach the controller at 127.0.0.1:{port} (")
    assert message.endswith("the charm tries again later")
    assert after.unit_status == testing.WaitingStatus(message)
    assert storage_files(storage_root(ctx, state)) == []


def test_unreachable_then_back_clears_the_status(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    port = closed_port()
    ctx = charm_context()
    dead = sim_secret(sim, endpoints=f"127.0.0.1:{port}")
    _, waiting = fails(ctx, sim_state(dead))
    assert isinstance(waiting.unit_status, testing.WaitingStatus)
    # The controller's address comes back (here: the secret is corrected).
    content = {**dead.tracked_content, "endpoints": ",".join(sim.endpoints)}
    fixed = dataclasses.replace(dead, tracked_content=content, latest_content=content)

    out = ctx.run(ctx.on.update_status(), dataclasses.replace(waiting, secrets=[fixed]))

    assert isinstance(out.unit_status, testing.ActiveStatus)
    # The leader's status goes on with the schedule.
    assert out.unit_status.message.startswith(
        "ready; no backup taken yet (run create-backup); next backup "
    )


def test_ha_not_ready_is_retried(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    sim.fail_next("Backups", "Create", "", "HA not ready; try again later", times=2)
    ctx = charm_context()

    out = ctx.run(ctx.on.action("create-backup"), sim_state(sim_secret(sim)))

    assert ctx.action_results is not None
    assert creates(sim) == 3
    assert isinstance(out.unit_status, testing.ActiveStatus)


def test_ha_never_ready_waits(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    sim.fail_next("Backups", "Create", "", "HA not ready; try again later", times=3)
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    message, after = fails(ctx, state)

    assert message == (
        "the controller could not take a backup now (HA not ready; try again later); "
        "try again later"
    )
    assert after.unit_status == testing.WaitingStatus(message)
    assert creates(sim) == 3
    assert storage_files(storage_root(ctx, state)) == []


def test_connection_dropped_during_create_is_not_retried(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    sim.drop_next("Backups", "Create")
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    message, after = fails(ctx, state)

    assert message.startswith(f"lost the controller at {sim.endpoints[0]} while it was creating")
    assert "It may have made the backup anyway" in message
    assert isinstance(after.unit_status, testing.WaitingStatus)
    assert creates(sim) == 1  # the controller may have made it: never sent twice
    assert storage_files(storage_root(ctx, state)) == []


# -- this attempt failed: the action fails, nothing is kept ------------------------------------


def test_not_enough_space_is_checked_before_downloading(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim("3.6.27", archive_size=4 << 20)
    monkeypatch.setattr(Catalogue, "free_bytes", lambda self: 2 << 20)
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    message, after = fails(ctx, state)

    root = storage_root(ctx, state)
    (left,) = list(sim.backup_dir(0).iterdir())  # never downloaded: still on the controller
    assert message.startswith(f"not enough space on the archives storage ({root}) for backup ")
    assert "and 2.0 MiB is free. Nothing was downloaded" in message
    assert "the archive stays on controller machine 0 (juju-" in message
    assert str(left) in message
    assert "attach a larger archives storage" in message
    assert not any(c.method == "GET backups" for c in sim.calls)
    assert storage_files(root) == []
    assert isinstance(after.unit_status, testing.ActiveStatus)
    assert "failed" in after.unit_status.message


def test_checksum_mismatch_discards_the_archive(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    sim.download_fault(corrupt=True)
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    message, after = fails(ctx, state)

    assert "does not match the checksum the controller reported (expected " in message
    assert "the download was discarded" in message
    assert "this backup is lost: run create-backup again" in message
    assert storage_files(storage_root(ctx, state)) == []
    assert isinstance(after.unit_status, testing.ActiveStatus)
    assert Catalogue(storage_root(ctx, state)).list() == []


def test_download_cut_short_keeps_nothing(make_sim: MakeSim) -> None:
    sim = make_sim("2.8.11", archive_size=4 << 20)
    sim.download_fault(truncate_at=(3 << 20) // 2)
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    message, _ = fails(ctx, state)

    assert message.startswith("the download of backup ")
    assert f"from {sim.endpoints[0]} was cut short (" in message
    assert "nothing was kept. Run create-backup again." in message
    assert storage_files(storage_root(ctx, state)) == []
    assert "downloading 25%" in ctx.action_logs  # it had started


def test_second_backup_while_one_runs_fails_at_once(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    ctx = charm_context()
    state = sim_state(sim_secret(sim))
    root = storage_root(ctx, state)

    with lock.exclusive(root / LOCK_NAME, "create-backup (scheduled)"):
        message, after = fails(ctx, state)

    assert message.startswith(
        "another backup operation is running on this unit: create-backup (scheduled) (pid "
    )
    assert message.endswith("wait for it to finish, then run create-backup again")
    assert sim.calls == []  # refused before touching the controller
    # The status tells of the running operation, not of the refused one.
    assert isinstance(after.unit_status, testing.MaintenanceStatus)
    assert after.unit_status.message.startswith("running create-backup (scheduled) (pid ")
    assert storage_files(root) == []


def test_a_failure_then_a_success_clears_the_problem(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    sim.download_fault(corrupt=True)
    ctx = charm_context()
    _, failed = fails(ctx, sim_state(sim_secret(sim)))

    out = ctx.run(ctx.on.action("create-backup"), failed)

    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert out.unit_status.message.startswith("last backup ")
    assert "failed" not in out.unit_status.message


def test_paths_in_messages_are_on_this_unit(make_sim: MakeSim) -> None:
    # Guard for the helpers above: storage_root is where the charm writes.
    sim = make_sim("3.6.27")
    ctx = charm_context()
    state = sim_state(sim_secret(sim))
    ctx.run(ctx.on.action("create-backup"), state)
    assert ctx.action_results is not None
    assert Path(ctx.action_results["archive"]).parent == storage_root(ctx, state)
