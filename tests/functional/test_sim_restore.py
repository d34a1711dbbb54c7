"""The 2.x API restore: PrepareRestore, Restore (the controller restarts), FinishRestore."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import MakeSim
from tests.jujusim import Simulator
from tests.jujusim.wire import RawRpc

LIMITED = "juju restore is in progress - functionality is limited to avoid data loss"


def login(sim: Simulator, node: int = 0) -> RawRpc:
    rpc = RawRpc(sim.endpoints[node], sim.ca_cert, sim.controller_model_uuid)
    answer = rpc.login(sim.username, sim.password)
    assert "error" not in answer, answer
    return rpc


def wait_for_login(sim: Simulator) -> list[dict]:
    """Log in until the restarted controller accepts; the refusals seen on the way."""
    refusals: list[dict] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
            answer = rpc.login(sim.username, sim.password)
        if "error" not in answer:
            return refusals
        refusals.append(answer)
        time.sleep(0.1)
    raise AssertionError(f"the controller never came back: {refusals[-1:]}")


def keep_backup(sim: Simulator) -> str:
    with login(sim) as rpc:
        answer = rpc.call(
            "Backups", 2, "Create", {"notes": "", "keep-copy": True, "no-download": True}
        )
    return answer["response"]["id"]


@pytest.mark.parametrize("ha", [1, 2])
def test_restore_sequence(make_sim: MakeSim, ha: int):
    sim = make_sim("2.8.11", ha=ha, archive_size=64 << 10)
    sim.restore_downtime = 1.0
    backup_id = keep_backup(sim)
    bystander = login(sim, node=ha - 1)
    with login(sim) as rpc:
        assert rpc.call("Backups", 2, "PrepareRestore") == {"request-id": 2, "response": {}}
    assert sim.restore_status == "PENDING"
    with login(sim) as rpc:
        # A login made while the restore is pending is limited to the restore calls.
        limited = rpc.call("Backups", 2, "List", {})
        create = rpc.call("Backups", 2, "Create", {"notes": ""})
        ping = rpc.call("Pinger", 1, "Ping")
        rpc.request("Backups", 2, "Restore", {"backup-id": backup_id})
        # The controller exits once restored: no answer, the connection just drops.
        with pytest.raises(ConnectionClosed):
            rpc.recv()
    assert limited["error"] == LIMITED
    assert "error-code" not in limited
    assert create["error"] == LIMITED
    assert "error" not in ping
    with pytest.raises(ConnectionClosed):
        bystander.recv(timeout=5)
    refusals = wait_for_login(sim)
    assert refusals
    assert {r["error"] for r in refusals} == {"login failed - maintenance in progress"}
    assert sim.restore_status == "RESTORED"
    with login(sim) as rpc:
        finish = rpc.call("Backups", 2, "FinishRestore")
        listed = rpc.call("Backups", 2, "List", {})
    assert finish["response"] == {}
    assert "error" not in listed
    assert sim.restore_status == "CHECKED"


def test_failed_restore_is_reported_by_finish_restore(make_sim: MakeSim):
    sim = make_sim("2.8.11", archive_size=64 << 10)
    sim.restore_downtime = 0.2
    sim.restore_fails = True
    backup_id = keep_backup(sim)
    with login(sim) as rpc:
        rpc.call("Backups", 2, "PrepareRestore")
    with login(sim) as rpc:
        rpc.request("Backups", 2, "Restore", {"backup-id": backup_id})
        with pytest.raises(ConnectionClosed):
            rpc.recv()
    wait_for_login(sim)
    with login(sim) as rpc:
        finish = rpc.call("Backups", 2, "FinishRestore")
    assert finish["error"] == "Restore did not finish successfully"
    assert sim.restore_status == "FAILED"


def test_restore_needs_prepare_and_a_known_backup(make_sim: MakeSim):
    sim = make_sim("2.8.11", archive_size=64 << 10)
    with login(sim) as rpc:
        unprepared = rpc.call("Backups", 2, "Restore", {"backup-id": "x"})
        finish = rpc.call("Backups", 2, "FinishRestore")
        prepared = rpc.call("Backups", 2, "PrepareRestore")
    with login(sim) as rpc:
        unknown = rpc.call("Backups", 2, "Restore", {"backup-id": "x"})
    assert unprepared["error"] == (
        'cannot set the server to "RESTORING" mode: setting status "RESTORING": '
        "invalid restore transition: NOT-RESTORING => RESTORING"
    )
    assert finish["error"] == (
        'setting status "FAILED": invalid restore transition: NOT-RESTORING => FAILED'
    )
    assert prepared["response"] == {}
    assert unknown["error"] == 'restore failed: backup metadata "x" not found'
    assert unknown["error-code"] == "not found"
    assert sim.restore_status == "FAILED"


def test_23_restore_sequence_on_v1(make_sim: MakeSim):
    sim = make_sim("2.3.4", archive_size=64 << 10)
    sim.restore_downtime = 0.2
    with login(sim) as rpc:
        backup_id = rpc.call("Backups", 1, "Create", {"notes": ""})["response"]["id"]
        assert rpc.call("Backups", 1, "PrepareRestore")["response"] == {}
    with login(sim) as rpc:
        rpc.request("Backups", 1, "Restore", {"backup-id": backup_id})
        with pytest.raises(ConnectionClosed):
            rpc.recv()
    wait_for_login(sim)
    with login(sim) as rpc:
        assert rpc.call("Backups", 1, "FinishRestore")["response"] == {}
