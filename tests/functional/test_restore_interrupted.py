"""A restore whose hook is cut off midway: the next hook finishes it or reports it.

A hook "dies" here by an exception raised out of the service right after a step, as a
killed process would stop there: nothing after it runs, the unit's StoredState is not
committed, only what is on the storage survives.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from ops import testing

import restore
from juju_api import Backups
from tests.conftest import MakeSim
from tests.functional._actions import Unit, fast_retries, start


class HookKilled(Exception):  # noqa: N818 -- not an error: a death
    """Stands for the hook's process dying."""


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_retries(monkeypatch)


def die_after(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Make the hook die right after Backups.<method> has done its work."""
    original: Callable[..., Any] = getattr(Backups, method)

    def step_then_die(self: Backups, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise HookKilled(f"killed after {method}")

    monkeypatch.setattr(Backups, method, step_then_die)


def killed_restore(unit: Unit, backup_id: str) -> None:
    with pytest.raises(testing.errors.UncaughtCharmError) as died:
        unit.ctx.run(
            unit.ctx.on.action("restore", params={"backup-id": backup_id, "confirm": True}),
            unit.state,
        )
    assert isinstance(died.value.__cause__, HookKilled)


def backup_calls(unit: Unit) -> list[str]:
    return [c.method for c in unit.sim.calls if c.facade == "Backups"]


def test_killed_after_restore_is_finished_by_update_status(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    with monkeypatch.context() as patch:
        die_after(patch, "restore")
        killed_restore(unit, backup_id)

    record = json.loads(unit.restore_state.read_text())
    assert record["step"] == restore.RESTORING
    assert record["backup-id"] == record["controller-id"] == backup_id
    assert record["model-uuid"] == sim.controller_model_uuid
    assert sim.password not in unit.restore_state.read_text()
    assert backup_calls(unit)[-1] == "Restore"
    # Any hook shows where things stand; update-status is the one that acts.
    between = unit.hook("start")
    assert isinstance(between.unit_status, testing.WaitingStatus)
    assert between.unit_status.message == (
        f"restore of {backup_id} on controller 2.8.11 begun {record['started-at']} stopped "
        "after asking the controller to restore: update-status finishes it, or run restore "
        f"backup-id={backup_id} confirm=true"
    )

    after = unit.hook("update-status")

    assert backup_calls(unit)[-1] == "FinishRestore"
    assert sim.restore_status == "CHECKED"
    assert not unit.restore_state.exists()
    assert isinstance(after.unit_status, testing.ActiveStatus)


def test_killed_after_restore_is_finished_by_running_restore_again(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    with monkeypatch.context() as patch:
        die_after(patch, "restore")
        killed_restore(unit, backup_id)

    done = unit.run("restore", **{"backup-id": backup_id, "confirm": True})

    assert done["resumed"] == "true"
    assert done["restored"] == backup_id
    assert unit.logs[0].startswith(f"finishing the earlier restore of {backup_id} ")
    # The restore was not started a second time.
    assert backup_calls(unit).count("PrepareRestore") == 1
    assert backup_calls(unit).count("Restore") == 1
    assert sim.restore_status == "CHECKED"
    assert not unit.restore_state.exists()


@pytest.mark.parametrize("step", ["prepare_restore", "upload"])
def test_killed_before_restore_takes_the_controller_out_of_restore_mode(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    with monkeypatch.context() as patch:
        if step == "upload":
            # The hook dies between the upload's step and Restore: the state says "uploaded".
            def die(self: restore.RestoreService, state: restore.RestoreState) -> Any:
                self._save(dataclasses.replace(state, step=restore.UPLOADED))
                raise HookKilled("killed before Restore")

            patch.setattr(restore.RestoreService, "_send_restore", die)
        else:
            die_after(patch, "prepare_restore")
        killed_restore(unit, backup_id)

    assert sim.restore_status == "PENDING"
    # While it is pending the controller refuses backups: this is why the next hook acts.
    message, _ = unit.fail("create-backup")
    assert "juju restore is in progress" in message

    after = unit.hook("update-status")

    assert sim.restore_status == "FAILED"  # out of restore mode; nothing was restored
    assert "Restore" not in backup_calls(unit)
    assert not unit.restore_state.exists()
    assert isinstance(after.unit_status, testing.BlockedStatus)
    assert f"restore of {backup_id} on controller 2.8.11 begun" in after.unit_status.message
    assert "nothing was restored, and the controller is out of restore mode" in (
        after.unit_status.message
    )
    assert f"restore backup-id={backup_id} confirm=true to try again" in (
        after.unit_status.message
    )
    # The controller takes backups again, and a success clears the status.
    unit.create()
    assert isinstance(unit.state.unit_status, testing.ActiveStatus)


def test_a_new_restore_first_abandons_an_interrupted_one(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    with monkeypatch.context() as patch:
        die_after(patch, "prepare_restore")
        killed_restore(unit, backup_id)

    done = unit.run("restore", **{"backup-id": backup_id, "confirm": True})

    assert done["resumed"] == "false"
    assert any("the controller is out of restore mode" in line for line in unit.logs)
    assert backup_calls(unit).count("PrepareRestore") == 2
    assert sim.restore_status == "CHECKED"


def test_check_reports_an_interrupted_restore(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    with monkeypatch.context() as patch:
        die_after(patch, "restore")
        killed_restore(unit, backup_id)

    message, _ = unit.fail("restore", **{"backup-id": backup_id})

    assert message.startswith(f"an earlier restore of {backup_id} on controller 2.8.11 begun ")
    assert f"run restore backup-id={backup_id} confirm=true to finish it" in message
    assert unit.restore_state.exists()
