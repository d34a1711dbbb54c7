"""list-backups, show-backup, remove-backups and restore through ops[testing], services faked.

What is tested here is the charm's part: loading the params, building the services from the
config and the credentials, turning what they return into Juju-legal results and their errors
into failed actions, and finishing an interrupted restore at update-status.
tests/functional/test_actions_*.py run the real services against the simulated controller.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from ops import testing

import charm as charm_module
import lock
import restore
import service
from catalogue import Catalogue
from charm import LOCK_NAME, JujuBackupsCharm
from inventory import BackupDetails, BackupListing, BackupRow, Removal, RemovalOutcome
from restore import RestoreOutcome, RestorePlan, RestoreState
from tests.unit.test_charm import charm_context, credentials_secret, ready_state, storage_root

BACKUP_ID = "20261204-151900.6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
WHEN = datetime.datetime(2026, 12, 4, 15, 19, tzinfo=datetime.timezone.utc)
KEY = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


@dataclasses.dataclass
class Script:
    """What the fake services return or raise, and what they were asked."""

    calls: list[tuple[str, Any]] = dataclasses.field(default_factory=list[tuple[str, Any]])
    made: list[dict[str, Any]] = dataclasses.field(default_factory=list[dict[str, Any]])
    error: Exception | None = None
    listing: BackupListing | None = None
    details: BackupDetails | None = None
    removal: Removal | None = None
    resume_outcome: RestoreOutcome | None = None

    def answer(self, name: str, argument: Any, result: Any) -> Any:
        self.calls.append((name, argument))
        if self.error is not None:
            raise self.error
        return result


class FakeBackupService:
    def __init__(self, script: Script, access: service.ControllerAccess, **kwargs: Any) -> None:
        self.script = script
        self.log: Callable[[str], None] = kwargs["log"]
        script.made.append({"kind": "backup", "access": access, **kwargs})

    def list_backups(self) -> BackupListing:
        self.log("listing")
        return self.script.answer("list", None, self.script.listing)

    def show_backup(self, backup_id: str) -> BackupDetails:
        return self.script.answer("show", backup_id, self.script.details)

    def remove_backups(self, ids: Sequence[str]) -> Removal:
        return self.script.answer("remove", list(ids), self.script.removal)


class FakeRestoreService:
    def __init__(self, script: Script, access: service.ControllerAccess, **kwargs: Any) -> None:
        self.script = script
        self.log: Callable[[str], None] = kwargs["log"]
        script.made.append({"kind": "restore", "access": access, **kwargs})

    def check_restore(self, backup_id: str, *, unit: str = "") -> RestorePlan:
        plan = RestorePlan(
            backup_id=backup_id,
            controller_version="2.8.11",
            endpoint="10.0.0.1:17070",
            archive=Path("/var/lib/juju-backups/archives") / f"{backup_id}.tar.gz",
            size=3 << 20,
            controller_id=None,
            upload=True,
        )
        return self.script.answer("check", (backup_id, unit), plan)

    def restore(self, backup_id: str, *, unit: str = "") -> RestoreOutcome:
        self.log("PrepareRestore: controller 2.8.11 enters restore mode")
        return self.script.answer("restore", (backup_id, unit), outcome(backup_id))

    def resume(self) -> RestoreOutcome | None:
        return self.script.answer("resume", None, self.script.resume_outcome)


def outcome(backup_id: str, *, resumed: bool = False) -> RestoreOutcome:
    return RestoreOutcome(
        backup_id=backup_id,
        controller_id=backup_id,
        controller_version="2.8.11",
        uploaded=True,
        resumed=resumed,
        started_at=WHEN,
        finished_at=WHEN + datetime.timedelta(minutes=3),
    )


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Script:
    made = Script()

    def backup_service(access: service.ControllerAccess, catalogue: Catalogue, **kw: Any) -> Any:
        return FakeBackupService(made, access, catalogue=catalogue, **kw)

    def restore_service(access: service.ControllerAccess, catalogue: Catalogue, **kw: Any) -> Any:
        return FakeRestoreService(made, access, catalogue=catalogue, **kw)

    monkeypatch.setattr(charm_module, "BackupService", backup_service)
    monkeypatch.setattr(charm_module, "RestoreService", restore_service)
    monkeypatch.setattr(JujuBackupsCharm, "agents_dir", tmp_path / "agents")
    monkeypatch.delenv("JUJU_API_ADDRESSES", raising=False)
    return made


def run(
    action: str, params: Mapping[str, Any] | None = None, state: testing.State | None = None
) -> dict[str, Any]:
    ctx = charm_context()
    ctx.run(ctx.on.action(action, params=dict(params or {})), state or ready_state())
    return dict(ctx.action_results or {})


def fail(
    action: str, params: Mapping[str, Any] | None = None, state: testing.State | None = None
) -> tuple[str, dict[str, Any]]:
    ctx = charm_context()
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action(action, params=dict(params or {})), state or ready_state())
    return failed.value.message, dict(ctx.action_results or {})


def flat(results: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in results.items():
        assert KEY.fullmatch(key), f"result key {prefix}{key} breaks Juju's rules"
        if isinstance(value, Mapping):
            out.update(flat(value, f"{prefix}{key}."))  # pyright: ignore[reportUnknownArgumentType]
        else:
            assert isinstance(value, str), f"result {prefix}{key} is not a string"
            out[f"{prefix}{key}"] = value
    return out


def row(backup_id: str, *, archive: bool = True, controller: bool = False) -> BackupRow:
    return BackupRow(
        id=backup_id,
        started=WHEN,
        size=3 << 20,
        notes="nightly",
        checksum="abc=",
        version="2.8.11",
        archive=Path(f"/srv/{backup_id}.tar.gz") if archive else None,
        on_controller=controller,
    )


# -- list-backups -------------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["table", "json"])
def test_list_backups(script: Script, output_format: str) -> None:
    script.listing = BackupListing(
        [row("b2", controller=True), row("b1"), row("b0", archive=False, controller=True)],
        "controller 2.8.11 keeps 2 backups in its own store",
    )

    results = run("list-backups", {"format": output_format})

    flat(results)
    assert results["count"] == "3"
    assert results["on-unit"] == "2"
    assert results["on-controller"] == "2"
    assert results["controller"] == "controller 2.8.11 keeps 2 backups in its own store"
    assert results["format"] == output_format
    if output_format == "json":
        rows = json.loads(results["backups"])
        assert [r["id"] for r in rows] == ["b2", "b1", "b0"]
        assert rows[2]["archive"] is None
        assert rows[0]["where"] == ["unit", "controller"]
    else:
        lines = results["backups"].splitlines()
        assert lines[1].split() == [
            *("b2", "2026-12-04", "15:19:00", "3.0", "MiB", "unit,controller", "nightly")
        ]
        assert lines[3].split()[5] == "controller"
    assert script.calls == [("list", None)]
    (made,) = script.made
    assert made["kind"] == "backup"
    assert made["access"].username == "backups"
    assert made["lock_path"] == made["catalogue"].root / LOCK_NAME


def test_list_backups_progress_is_logged(script: Script) -> None:
    script.listing = BackupListing([], "the controller was not asked (unreachable)")
    ctx = charm_context()

    ctx.run(ctx.on.action("list-backups"), ready_state())

    assert ctx.action_logs == ["listing"]
    assert (ctx.action_results or {})["backups"] == "no backups"


def test_list_backups_refuses_an_unknown_format(script: Script) -> None:
    message, _ = fail("list-backups", {"format": "yaml"})

    assert "format 'yaml' is not known: use table or json" in message
    assert script.made == []


def test_list_backups_without_credentials_fails_with_the_fix(script: Script) -> None:
    state = testing.State(storages=[testing.Storage("archives")], leader=True)

    message, _ = fail("list-backups", state=state)

    assert message.startswith("no credentials: juju add-user backups")
    assert script.made == []


def test_list_backups_service_error_fails_the_action(script: Script) -> None:
    script.error = service.BackupFailedError("cannot read the archives storage /x: I/O error")

    message, results = fail("list-backups")

    assert message == "cannot read the archives storage /x: I/O error"
    assert results == {}


# -- show-backup --------------------------------------------------------------------------------


def test_show_backup_never_shows_ca_material(script: Script, tmp_path: Path) -> None:
    archive = tmp_path / f"{BACKUP_ID}.tar.gz"
    archive.write_bytes(b"archive")
    local = Catalogue(tmp_path).add(
        BACKUP_ID,
        {"id": BACKUP_ID, "checksum": "abc="},
        application="juju-backups",
        trigger="scheduled",
        source="10.0.0.1:17070",
    )
    script.details = BackupDetails(
        id=BACKUP_ID,
        metadata={
            "id": BACKUP_ID,
            "notes": "nightly",
            "size": 7,
            "stored": "0001-01-01T00:00:00Z",
            "series": None,
            "ca-cert": "-----BEGIN CERTIFICATE-----",
            "ca-private-key": "-----BEGIN RSA PRIVATE KEY-----",
            "Weird_Key": "x",
        },
        local=local,
        expected_checksum="abc=",
        actual_checksum="xyz=",
        on_controller=True,
        controller="controller 2.8.11 keeps a copy in its store",
    )

    results = run("show-backup", {"backup-id": f"  {BACKUP_ID} "})

    values = flat(results)
    assert script.calls == [("show", BACKUP_ID)]
    assert results["metadata"] == {"id": BACKUP_ID, "notes": "nightly", "size": "7"}
    assert "PRIVATE KEY" not in json.dumps(results)
    assert "CERTIFICATE" not in json.dumps(results)
    assert results["where"] == "unit, controller"
    assert results["archive-intact"] == "false"
    assert values["unit.checksum-matches"] == "false"
    assert values["unit.checksum-actual"] == "xyz="
    assert values["unit.archive"] == str(archive)
    assert values["unit.trigger"] == "scheduled"


def test_show_backup_only_on_the_controller(script: Script) -> None:
    script.details = BackupDetails(
        id=BACKUP_ID,
        metadata={"id": BACKUP_ID},
        local=None,
        expected_checksum=None,
        actual_checksum=None,
        on_controller=True,
        controller="controller 2.8.11 keeps a copy in its store",
    )

    results = run("show-backup", {"backup-id": BACKUP_ID})

    assert results["where"] == "controller"
    assert "unit" not in results
    assert "archive-intact" not in results


def test_show_backup_unknown(script: Script) -> None:
    script.error = service.UnknownBackupError(f"no backup {BACKUP_ID} on this unit")

    message, _ = fail("show-backup", {"backup-id": BACKUP_ID})

    assert message == f"no backup {BACKUP_ID} on this unit"


# -- remove-backups -----------------------------------------------------------------------------


def test_remove_backups_splits_the_ids_as_typed(script: Script) -> None:
    script.removal = Removal(
        [RemovalOutcome("a", ("unit",)), RemovalOutcome("b", ("unit", "controller"))],
        "controller 2.8.11 keeps backups in its own store: asked it to remove them",
    )

    results = run("remove-backups", {"backup-ids": " a, b\tb  ,a "})

    flat(results)
    assert script.calls == [("remove", ["a", "b"])]
    assert results["removed"] == "2"
    assert results["failed"] == "0"
    assert results["results"] == {
        "1": {"id": "a", "removed-from": "unit"},
        "2": {"id": "b", "removed-from": "unit, controller"},
    }


def test_remove_backups_partial_failure_fails_with_the_results(script: Script) -> None:
    outcomes = [RemovalOutcome(f"id{n}", ("unit",)) for n in range(11)]
    outcomes[3] = RemovalOutcome("id3", error="no backup id3 on this unit")
    script.removal = Removal(outcomes, "controller 3.6.27 keeps no backups of its own")

    message, results = fail("remove-backups", {"backup-ids": " ".join(o.id for o in outcomes)})

    assert message == "1 of 11 could not be removed: id3: no backup id3 on this unit"
    flat(results)
    assert results["removed"] == "10"
    assert results["failed"] == "1"
    # Zero-padded positions keep the ids in order in `juju run`'s sorted output.
    assert sorted(results["results"]) == [f"{n:02d}" for n in range(1, 12)]
    assert results["results"]["04"] == {
        "id": "id3",
        "removed-from": "nowhere",
        "error": "no backup id3 on this unit",
    }


# -- restore ------------------------------------------------------------------------------------


def test_restore_without_confirm_only_checks(script: Script) -> None:
    results = run("restore", {"backup-id": BACKUP_ID})

    flat(results)
    assert script.calls == [("check", (BACKUP_ID, "juju-backups/0"))]
    assert results["upload-needed"] == "true"
    assert results["plan"].splitlines() == [
        "1. PrepareRestore: the controller enters restore mode and refuses most other calls",
        f"2. upload {BACKUP_ID}.tar.gz (3.0 MiB), as the controller does not have it",
        "3. Restore the uploaded copy: the controller restores it, then restarts",
        "4. wait up to 1800 s for the controller to come back, reconnecting",
        "5. FinishRestore: the controller confirms the restore and leaves restore mode",
    ]
    assert results["next"] == (
        "nothing was changed; to restore, run: juju run juju-backups/0 restore "
        f"backup-id={BACKUP_ID} confirm=true"
    )
    assert "controller-id" not in results


def test_restore_with_confirm(script: Script) -> None:
    ctx = charm_context()

    ctx.run(
        ctx.on.action("restore", params={"backup-id": BACKUP_ID, "confirm": True, "timeout": 600}),
        ready_state(timeout=30),
    )

    results = ctx.action_results or {}
    flat(results)
    assert script.calls == [("restore", (BACKUP_ID, "juju-backups/0"))]
    assert results["restored"] == BACKUP_ID
    assert results["uploaded"] == "true"
    assert results["started-at"] == "2026-12-04 15:19:00 UTC"
    assert results["finished-at"] == "2026-12-04 15:22:00 UTC"
    assert ctx.action_logs == ["PrepareRestore: controller 2.8.11 enters restore mode"]
    (made,) = script.made
    assert made["kind"] == "restore"
    assert made["restore_timeout"] == 600
    assert made["timeout"] == 30
    root = made["catalogue"].root
    assert made["state_path"] == root / restore.STATE_FILE
    assert made["lock_path"] == root / LOCK_NAME


@pytest.mark.parametrize("timeout", [5, 86401])
def test_restore_timeout_out_of_range(script: Script, timeout: int) -> None:
    message, _ = fail("restore", {"backup-id": BACKUP_ID, "timeout": timeout})

    assert "seconds is out of range: use 10 to 86400 (default 1800)" in message
    assert script.made == []


@pytest.mark.parametrize(
    "error",
    [
        restore.RestoreUnsupportedError("controller 3.6.27 cannot restore through its API"),
        restore.CorruptArchiveError("the archive of backup x does not match its checksum"),
        restore.UploadRejectedError("the controller refused the upload of backup x"),
        restore.RestartTimeoutError("controller 2.8.11 did not confirm the restore"),
        restore.RestoreFailedError("the restore did not finish successfully"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_restore_failures_fail_the_action_only(script: Script, error: Exception) -> None:
    script.error = error
    ctx = charm_context()

    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(
            ctx.on.action("restore", params={"backup-id": BACKUP_ID, "confirm": True}),
            ready_state(),
        )

    assert failed.value.message == str(error)
    # The action's caller has the message: the unit's status does not repeat it.
    after = failed.value.state
    assert isinstance(after, testing.State)
    assert isinstance(after.unit_status, testing.ActiveStatus)


# -- a restore a killed hook left midway ----------------------------------------------------------


def pending_state(
    ctx: testing.Context[JujuBackupsCharm], state: testing.State, step: str = restore.RESTORING
) -> tuple[testing.State, Path]:
    """Put the state file of a restore a killed hook left behind on the unit's storage."""
    root = storage_root(ctx, state)
    root.mkdir(parents=True, exist_ok=True)
    record = RestoreState(
        backup_id=BACKUP_ID,
        controller_id=BACKUP_ID,
        step=step,
        model_uuid="6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        controller_version="2.8.11",
        started_at=WHEN,
    )
    (root / restore.STATE_FILE).write_bytes(record.to_json())
    return state, root


def test_update_status_finishes_an_interrupted_restore(script: Script) -> None:
    ctx = charm_context()
    state, _ = pending_state(ctx, ready_state(timeout=45))
    script.resume_outcome = outcome(BACKUP_ID, resumed=True)

    ctx.run(ctx.on.update_status(), state)

    assert ("resume", None) in script.calls
    made = next(m for m in script.made if m["kind"] == "restore")
    assert made["restore_timeout"] == 45  # a hook waits one API timeout, not a restore's


def test_update_status_without_a_pending_restore_builds_no_restore_service(
    script: Script,
) -> None:
    ctx = charm_context()

    ctx.run(ctx.on.update_status(), ready_state())

    assert [m for m in script.made if m["kind"] == "restore"] == []


@pytest.mark.parametrize(
    "error",
    [
        restore.RestoreInterruptedError("the restore of x stopped: nothing was restored"),
        restore.RestoreFailedError("the restore of x did not finish successfully"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_update_status_reports_a_failed_restore_as_blocked(
    script: Script, error: Exception
) -> None:
    ctx = charm_context()
    state, root = pending_state(ctx, ready_state(), step=restore.PREPARED)

    def fake_resume() -> RestoreOutcome | None:
        (root / restore.STATE_FILE).unlink()  # the service clears it once it has reported
        raise error

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeRestoreService, "resume", lambda self: fake_resume())
        out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == testing.BlockedStatus(str(error))


def test_a_restore_still_waiting_shows_as_waiting(script: Script) -> None:
    ctx = charm_context()
    state, _ = pending_state(ctx, ready_state())
    script.error = restore.RestartTimeoutError("controller 2.8.11 did not confirm the restore")

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == testing.WaitingStatus(
        f"restore of {BACKUP_ID} on controller 2.8.11 begun 2026-12-04T15:19:00Z stopped "
        "after asking the controller to restore: update-status finishes it, or run restore "
        f"backup-id={BACKUP_ID} confirm=true"
    )


def test_a_running_restore_shows_as_maintenance(script: Script) -> None:
    ctx = charm_context()
    state, root = pending_state(ctx, ready_state())

    with lock.exclusive(root / LOCK_NAME, f"restore of {BACKUP_ID}"):
        out = ctx.run(ctx.on.start(), state)

    assert isinstance(out.unit_status, testing.MaintenanceStatus)
    assert out.unit_status.message.startswith(f"running restore of {BACKUP_ID} (pid ")


def test_a_damaged_restore_state_blocks(script: Script) -> None:
    state = ready_state()
    ctx = charm_context()
    root = storage_root(ctx, state)
    root.mkdir(parents=True, exist_ok=True)
    (root / restore.STATE_FILE).write_text('{"step": "dancing"}')

    out = ctx.run(ctx.on.start(), state)

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith(f"the restore state {root / restore.STATE_FILE}")
    assert "is damaged" in out.unit_status.message


def test_other_credentials_reach_the_restore_service(script: Script) -> None:
    secret = credentials_secret(username="operator", endpoints="10.9.9.9:17070")

    run("restore", {"backup-id": BACKUP_ID}, ready_state(secret))

    (made,) = script.made
    assert made["access"].username == "operator"
    assert made["access"].endpoints == ["10.9.9.9:17070"]
