"""restore.RestoreService without the charm: waiting for the controller, and what it keeps."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

import lock
import restore
from catalogue import Catalogue
from juju_api import Backups
from restore import RestartTimeoutError, RestoreService
from service import ControllerAccess, ServiceError
from tests.conftest import MakeSim
from tests.functional._actions import fast_retries, start
from tests.jujusim import Simulator


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_retries(monkeypatch)


def make_service(
    sim: Simulator, root: Path, *, restore_timeout: float, log: list[str] | None = None
) -> RestoreService:
    root.mkdir(parents=True, exist_ok=True)
    return RestoreService(
        ControllerAccess(sim.endpoints, sim.ca_cert, sim.username, sim.password),
        Catalogue(root),
        application="juju-backups",
        lock_path=root / ".lock",
        state_path=root / restore.STATE_FILE,
        timeout=10,
        restore_timeout=restore_timeout,
        log=(log.append if log is not None else lambda _m: None),
    )


def test_restart_timeout_keeps_the_state_and_a_later_hook_finishes(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    sim = start(make_sim, "2.8.11")
    impatient = make_service(sim, tmp_path, restore_timeout=0.3)
    entry = impatient.create("restore me", keep_copy=True)
    sim.restore_downtime = 2.0

    with pytest.raises(RestartTimeoutError) as timed_out:
        impatient.restore(entry.id)

    message = str(timed_out.value)
    assert message.startswith(
        f"controller 2.8.11 did not confirm the restore of {entry.id} within 0.3 s (last "
        "answer: login failed - maintenance in progress)"
    )
    assert "the charm checks at every update-status" in message
    assert f"run restore backup-id={entry.id} confirm=true to wait again" in message
    pending = impatient.pending()
    assert pending is not None
    assert pending.step == restore.RESTORING
    log: list[str] = []
    patient = make_service(sim, tmp_path, restore_timeout=30, log=log)

    outcome = patient.resume()

    assert outcome is not None
    assert outcome.resumed
    assert outcome.controller_id == entry.id
    assert sim.restore_status == "CHECKED"
    assert patient.pending() is None
    assert patient.resume() is None  # nothing left to do
    assert any(line.startswith("not back yet (login failed") for line in log)


def test_resume_leaves_a_restore_to_the_operation_holding_the_lock(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    sim = start(make_sim, "2.8.11")
    service = make_service(sim, tmp_path, restore_timeout=5)
    state = restore.RestoreState(
        backup_id="20240301-120001.x",
        controller_id="20240301-120001.x",
        step=restore.RESTORING,
        model_uuid=sim.controller_model_uuid,
        controller_version="2.8.11",
        started_at=datetime.datetime.now(datetime.timezone.utc),
    )
    (tmp_path / restore.STATE_FILE).write_bytes(state.to_json())

    with lock.exclusive(tmp_path / ".lock", "restore of 20240301-120001.x"):
        assert service.resume() is None

    assert service.pending() == state
    assert not [c for c in sim.calls if c.method == "FinishRestore"]


def test_restored_controller_refusing_the_login_keeps_the_state(
    make_sim: MakeSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start(make_sim, "2.8.11")
    service = make_service(sim, tmp_path, restore_timeout=10)
    entry = service.create("", keep_copy=True)
    original = Backups.restore

    def restore_an_older_user_database(self: Backups, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # The backup predates the charm's password: the restored controller knows another.
        sim.add_user(sim.username, "the password at backup time", superuser=True)

    monkeypatch.setattr(Backups, "restore", restore_an_older_user_database)

    with pytest.raises(ServiceError) as refused:
        service.restore(entry.id)

    assert str(refused.value) == (
        f"the restored controller refuses the login of user {sim.username!r}: the backup may "
        "predate the user or its password. Put an account the restored controller knows in "
        "the credentials secret: the charm then finishes the restore"
    )
    record = json.loads((tmp_path / restore.STATE_FILE).read_text())
    assert record["step"] == restore.RESTORING
    assert sim.password not in (tmp_path / restore.STATE_FILE).read_text()


def test_damaged_state_file_is_reported(make_sim: MakeSim, tmp_path: Path) -> None:
    sim = start(make_sim, "2.8.11")
    service = make_service(sim, tmp_path, restore_timeout=5)
    (tmp_path / restore.STATE_FILE).write_text("{not json")

    with pytest.raises(restore.RestoreStateError) as damaged:
        service.resume()

    assert str(damaged.value).startswith(
        f"the restore state {tmp_path / restore.STATE_FILE} is damaged ("
    )
    assert "then delete the file" in str(damaged.value)
    assert damaged.value.blocked
