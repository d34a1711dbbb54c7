"""Restore on a 2.8 controller, interrupted at each step: by the controller, or by SIGKILL.

After every interruption the controller must not be left in restore mode without the operator
being told, the next hook must finish or report the restore, and the unit's archives must be
intact.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ops import testing

import restore
from tests.faults.conftest import Record
from tests.faults.harness import (
    Charm,
    Exposure,
    SharedStorageContext,
    losses,
    lost_text,
    sim_credentials,
    state,
)
from tests.faults.test_processes import Worker, job, wait_for
from tests.jujusim import Simulator

Start = Callable[..., Simulator]


@pytest.fixture(autouse=True)
def _fast_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore, "LOOKUP_BACKOFF", 0.0)
    monkeypatch.setattr(restore, "RESTART_BACKOFF", 0.05)
    monkeypatch.setattr(restore, "RESTART_BACKOFF_MAX", 0.2)


def ready(
    controller: Start, charm: Charm, *, keep_copy: bool
) -> tuple[Simulator, str, testing.State]:
    sim = controller("2.8.11")
    sim.restore_downtime = 0.3
    run = charm.action("create-backup", state(sim_credentials(sim)), **{"keep-copy": keep_copy})
    assert run.ok, run.message
    assert run.results is not None
    return sim, run.results["backup-id"], run.state


def backup_calls(sim: Simulator) -> list[str]:
    return [c.method for c in sim.calls if c.facade == "Backups"]


def restore_calls(sim: Simulator) -> list[str]:
    return [m for m in backup_calls(sim) if "Restore" in m]


STEP_FAULTS: list[tuple[str, str, str, str, str]] = [
    # (case, method the fault hits, code, message, what the failure says; "" = it succeeds)
    ("PrepareRestore refused", "PrepareRestore", "", "injected refusal", "PrepareRestore"),
    ("connection dropped during PrepareRestore", "PrepareRestore", "drop", "", "PrepareRestore"),
    ("Restore refused", "Restore", "", "injected refusal", "refused to restore"),
    # The drop comes before the controller restores: taken for the usual success signal,
    # then FinishRestore tells the truth.
    ("connection dropped as Restore arrives", "Restore", "drop", "", "did not finish"),
    (
        "FinishRestore answers 'upgrade in progress' while the controller comes back",
        "FinishRestore",
        "upgrade in progress",
        "upgrade in progress",
        "",
    ),
    ("FinishRestore refused outright", "FinishRestore", "", "injected refusal", "FinishRestore"),
]


@pytest.mark.parametrize(
    ("case", "method", "code", "message", "said"), STEP_FAULTS, ids=[c[0] for c in STEP_FAULTS]
)
def test_restore_step_fails(
    controller: Start,
    charm: Charm,
    record: Record,
    case: str,
    method: str,
    code: str,
    message: str,
    said: str,
) -> None:
    sim, backup_id, after = ready(controller, charm, keep_copy=True)
    if code == "drop":
        sim.drop_next("Backups", method)
    else:
        sim.fail_next("Backups", method, code, message)

    run = charm.action("restore", after, **{"backup-id": backup_id, "confirm": True})

    found = losses(charm.root(), kept_before=[backup_id])
    if not said:
        assert run.ok, run.message
        assert sim.restore_status in ("NOT-RESTORING", "CHECKED")
    else:
        assert not run.ok
        assert said in run.message
        if method == "PrepareRestore" or said == "refused to restore":
            assert "Nothing was restored" in run.message
        # Never left in restore mode without a word: out of it, or the failure says so.
        assert sim.restore_status != "PENDING" or "restore mode" in run.message
    assert not (charm.root() / restore.STATE_FILE).exists() or not run.ok
    record(f"restore 2.8: {case}", run.describe(), lost_text(found))
    assert found == []


def test_restore_fails_on_the_controller(controller: Start, charm: Charm, record: Record) -> None:
    sim, backup_id, after = ready(controller, charm, keep_copy=True)
    sim.restore_fails = True

    run = charm.action("restore", after, **{"backup-id": backup_id, "confirm": True})

    assert not run.ok
    assert f"reports that the restore of {backup_id}" in run.message
    found = losses(charm.root(), kept_before=[backup_id])
    record("restore 2.8: the controller's restore fails", run.describe(), lost_text(found))
    assert found == []


def test_controller_slow_to_come_back(controller: Start, charm: Charm, record: Record) -> None:
    sim, backup_id, after = ready(controller, charm, keep_copy=True)
    sim.restore_downtime = 3.0

    run = charm.action(
        "restore", after, **{"backup-id": backup_id, "confirm": True, "timeout": 10}
    )
    # Below the action's minimum: the service's own limit, so that the wait runs out here.
    assert run.ok or "did not confirm the restore" in run.message
    if run.ok:
        outcome = run.describe()
    else:
        outcome = f"{run.describe()}; then update-status finished it"
        wait_for(lambda: sim.restore_status != "RESTORING", "the simulated restart")
        later = charm.event(charm.ctx.on.update_status(), run.state, "update-status")
        assert not (charm.root() / restore.STATE_FILE).exists()
        assert not isinstance(later.status, testing.BlockedStatus), later.status
    found = losses(charm.root(), kept_before=[backup_id])
    record("restore 2.8: the controller restarts slowly", outcome, lost_text(found))
    assert found == []


# -- the unit's process killed at each step ------------------------------------------------------

KILLS: list[tuple[str, str, str, str]] = [
    # (case, the call held up by the sim while the kill happens, the state file's step then,
    #  what the next hook must have done)
    ("during PrepareRestore", "PrepareRestore", restore.PREPARING, "abandoned"),
    ("after the upload, while checking it", "Info", restore.PREPARED, "abandoned"),
    ("during Restore", "Restore", restore.RESTORING, "finished or reported"),
]


@pytest.mark.parametrize(("case", "method", "step", "then"), KILLS, ids=[k[0] for k in KILLS])
def test_restore_killed(
    controller: Start,
    exposure: Exposure,
    record: Record,
    tmp_path: Path,
    cron_dir: Path,
    case: str,
    method: str,
    step: str,
    then: str,
) -> None:
    sim = controller("2.8.11")
    sim.restore_downtime = 0.3
    root = tmp_path / "archives"
    charm = Charm(exposure, SharedStorageContext(root))
    # Not kept on the controller: the restore must upload it (the Info step follows).
    first = charm.action("create-backup", state(sim_credentials(sim)))
    assert first.ok, first.message
    assert first.results is not None
    backup_id = first.results["backup-id"]
    # Info is called twice: to see whether the controller has the backup, and to check the
    # upload; the kill comes during the second.
    calls = 2 if method == "Info" else 1
    sim.delay_next("Backups", method, 3.0, times=calls)

    worker = Worker(
        job(
            sim,
            root,
            cron_dir,
            action="restore",
            params={"backup-id": backup_id, "confirm": True},
        )
    )
    worker.ready()
    state_file = root / restore.STATE_FILE
    wait_for(lambda: _step(state_file) == step and _calls(sim, method) >= calls, f"step {step}")
    os.kill(worker.pid, signal.SIGKILL)
    worker.kill()

    # The next hook, as Juju would run it: update-status.
    after = charm.event(charm.ctx.on.update_status(), state(sim_credentials(sim)), "update-status")
    found = losses(root, kept_before=[backup_id])
    status = after.status
    if then == "abandoned":
        assert not state_file.exists()
        assert sim.restore_status in ("NOT-RESTORING", "FAILED")
        assert "Restore" not in backup_calls(sim)
        assert isinstance(status, (testing.BlockedStatus, testing.ActiveStatus)), status
    else:
        # Killed with Restore in flight: the next hooks finish it once the controller answers,
        # or say it failed; never silence.
        waiting = (testing.WaitingStatus, testing.MaintenanceStatus, testing.BlockedStatus)
        assert not state_file.exists() or isinstance(status, waiting), status
    record(
        f"restore 2.8: unit process SIGKILLed {case}",
        f"next update-status: {status.name}: {status.message}",
        lost_text(found),
    )
    assert found == []


def _step(path: Path) -> str | None:
    try:
        record: Any = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record.get("step") if isinstance(record, dict) else None


def _calls(sim: Simulator, method: str) -> int:
    return sum(1 for c in sim.calls if c.facade == "Backups" and c.method == method)
