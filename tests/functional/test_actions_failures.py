"""Failures of list-backups, show-backup, remove-backups and restore, each with its message.

Each path must say what went wrong and what to do, and a restore that fails before the
controller began restoring must leave the controller out of restore mode (a controller left
in it refuses almost every call) and no restore state behind.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from ops import testing

import lock
from catalogue import Catalogue, checksum
from charm import LOCK_NAME
from juju_api import Backups, connect
from tests.conftest import MakeSim
from tests.functional._actions import Unit, fast_retries, start
from tests.functional.test_charm_create import sim_secret, sim_state
from tests.jujusim import Simulator

UNKNOWN = "20200101-000000.0a0b0c0d-0000-4000-8000-000000000000"
TRAVERSAL = ["../../etc/passwd", "/etc/passwd", ".hidden", "a/../../b", "x" * 201]


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_retries(monkeypatch)


def backup_calls(sim: Simulator) -> list[str]:
    return [c.method for c in sim.calls if c.facade == "Backups"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# -- ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", TRAVERSAL)
def test_ids_that_could_escape_the_storage_are_refused(make_sim: MakeSim, bad_id: str) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    calls_before = len(sim.calls)

    for action, params in [
        ("show-backup", {"backup-id": bad_id}),
        ("restore", {"backup-id": bad_id}),
        ("restore", {"backup-id": bad_id, "confirm": True}),
    ]:
        message, _ = unit.fail(action, **params)
        assert "is not valid" in message or "characters long" in message, message
        assert "run list-backups to see the ids" in message
    message, removed = unit.fail("remove-backups", **{"backup-ids": f"{bad_id},{backup_id}"})

    assert removed["results"]["1"]["removed-from"] == "nowhere"
    assert removed["results"]["2"]["removed-from"] == "unit, controller"
    assert message.startswith("1 of 2 could not be removed")
    # Nothing was asked of the controller for the bad id.
    assert all(bad_id not in json.dumps(c.params) for c in sim.calls[calls_before:])


def test_unknown_id(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    unit.create()

    shown, _ = unit.fail("show-backup", **{"backup-id": UNKNOWN})
    checked, _ = unit.fail("restore", **{"backup-id": UNKNOWN})
    restored, _ = unit.fail("restore", **{"backup-id": UNKNOWN, "confirm": True})

    assert shown == (
        f"no backup {UNKNOWN} on this unit ({unit.root}), and controller 2.8.11 does not have "
        "it in its store. Run list-backups to see the ids"
    )
    for message in (checked, restored):
        assert message == (
            f"no backup {UNKNOWN} on this unit ({unit.root}), nor in the store of controller "
            "2.8.11. Run list-backups to see the ids"
        )
    assert "PrepareRestore" not in backup_calls(sim)
    assert sim.restore_status == "NOT-RESTORING"


@pytest.mark.parametrize("version", ["3.6.27", "2.9.60"])
def test_unknown_id_on_a_controller_that_keeps_nothing(make_sim: MakeSim, version: str) -> None:
    unit = Unit(start(make_sim, version))

    message, _ = unit.fail("restore", **{"backup-id": UNKNOWN, "confirm": True})

    assert message == (
        f"no backup {UNKNOWN} on this unit ({unit.root}), and controller {version} keeps none "
        "of its own. Run list-backups to see the ids"
    )


def test_empty_id_list(make_sim: MakeSim) -> None:
    unit = Unit(start(make_sim, "3.6.27"))

    message, _ = unit.fail("remove-backups", **{"backup-ids": " , "})

    assert message == "no backup ids given: pass backup-ids=<id>[,<id>...] (see list-backups)"


def test_unknown_list_format(make_sim: MakeSim) -> None:
    unit = Unit(start(make_sim, "3.6.27"))

    message, _ = unit.fail("list-backups", format="yaml")

    assert "format 'yaml' is not known: use table or json" in message


# -- damaged archives ---------------------------------------------------------------------------


def test_corrupt_archive_is_shown_as_such_and_never_restored(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    archive = unit.catalogue.archive_path(backup_id)
    expected = checksum(archive)
    damage(archive)

    shown = unit.run("show-backup", **{"backup-id": backup_id})
    message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})

    assert shown["archive-intact"] == "false"
    assert shown["unit"]["checksum-matches"] == "false"
    assert shown["unit"]["checksum-actual"] == checksum(archive) != expected
    assert message == (
        f"the archive of backup {backup_id} on this unit ({archive}) does not match its "
        f"checksum (expected {expected}, found {checksum(archive)}): it is damaged and must not "
        "be restored. Restore another backup (see list-backups) and remove this one with "
        "remove-backups"
    )
    assert "PrepareRestore" not in backup_calls(sim)
    assert sim.restore_status == "NOT-RESTORING"
    assert not unit.restore_state.exists()


# -- the controller refuses ---------------------------------------------------------------------


def test_prepare_restore_refused(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    sim.fail_next("Backups", "PrepareRestore", "", "cannot prepare: HA members disagree")

    message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})

    assert message == (
        "the controller refused PrepareRestore: cannot prepare: HA members disagree. Nothing "
        "was restored; the controller is out of restore mode"
    )
    assert "Restore" not in backup_calls(sim)
    assert sim.restore_status in ("NOT-RESTORING", "FAILED")
    assert not unit.restore_state.exists()


def test_restore_refused_by_the_controller(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    sim.fail_next("Backups", "Restore", "", "restore failed: cannot connect to mongo")

    message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})

    assert message == (
        f"controller 2.8.11 refused to restore {backup_id}: restore failed: cannot connect to "
        "mongo. Nothing was restored; the controller is out of restore mode"
    )
    # FinishRestore turned the pending restore into a failed one: calls work again.
    assert sim.restore_status == "FAILED"
    assert not unit.restore_state.exists()
    assert unit.run("list-backups")["count"] == "1"


def test_restore_that_does_not_finish_successfully(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    sim.restore_fails = True
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})

    message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})

    assert message.startswith(
        f"controller 2.8.11 reports that the restore of {backup_id} did not finish "
        "successfully (Restore did not finish successfully). Check the controller before "
        "using it"
    )
    assert "juju debug-log -m controller" in message
    assert backup_calls(sim)[-1] == "FinishRestore"
    assert sim.restore_status == "FAILED"
    assert not unit.restore_state.exists()


def test_upload_rejected(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    # The unit's copy is intact but differs from the controller's: the unit's is uploaded,
    # and the controller refuses a second backup with this id.
    archive = unit.catalogue.archive_path(backup_id)
    archive.write_bytes(archive.read_bytes() + b"extra")
    record_path = unit.catalogue.metadata_path(backup_id)
    record = json.loads(record_path.read_text())
    record["metadata"].update(checksum=checksum(archive), size=archive.stat().st_size)
    record_path.write_text(json.dumps(record))

    plan = unit.run("restore", **{"backup-id": backup_id})
    message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})

    assert plan["upload-needed"] == "true"
    assert "as the controller's copy has other content" in plan["plan"]
    assert message.startswith(f"the controller refused the upload of backup {backup_id}: ")
    assert f'(HTTP 500): backup metadata "{backup_id}" already exists' in message
    assert "(the controller already has a different backup with this id: restore that one, " in (
        message
    )
    assert message.endswith("Nothing was restored; the controller is out of restore mode")
    assert [c.method for c in sim.calls if c.facade == "HTTP"][-1:] != ["PUT backups"]
    assert "Restore" not in backup_calls(sim)
    assert sim.restore_status == "FAILED"
    assert not unit.restore_state.exists()


def test_2_3_cannot_take_an_upload(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.3.4")
    unit = Unit(sim)
    backup_id = unit.create()
    with connect(
        sim.endpoints,
        sim.ca_cert,
        sim.username,
        sim.password,
        model_uuid=sim.controller_model_uuid,
    ) as conn:
        Backups(conn).remove([backup_id])

    message, _ = unit.fail("restore", **{"backup-id": backup_id})

    archive = unit.catalogue.archive_path(backup_id)
    assert message == (
        f"controller 2.3.4 does not have backup {backup_id} in its store, and controllers "
        "before Juju 2.4 cannot take an uploaded archive, so it cannot restore it. The archive "
        f"is on this unit at {archive}"
    )


def test_juju_4_refusal(make_sim: MakeSim) -> None:
    sim = start(make_sim, "4.0.14")
    unit = Unit(sim)
    # Juju 4 makes no backups through the API: an archive of an earlier controller is there.
    root = unit.root
    root.mkdir(parents=True, exist_ok=True)
    backup_id = "juju-backup-20240301-120000.tar.gz"
    archive = Catalogue(root).archive_path(backup_id)
    archive.write_bytes(b"an older controller's archive")
    Catalogue(root).add(
        backup_id,
        {"id": backup_id, "checksum": checksum(archive), "version": "3.6.27"},
        application="juju-backups",
        trigger="manual",
        source="10.0.0.1:17070",
    )

    message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})

    assert message.startswith("controller 4.0.14 cannot restore through its API: Juju 4")
    assert "Dqlite" in message
    assert "juju-restore" in message
    assert message.endswith(f"The archive is on this unit at {archive}")


# -- the controller cannot be asked ---------------------------------------------------------------


def test_unreachable_controller_lists_and_shows_what_the_unit_has(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})
    unreachable = sim_state(sim_secret(sim, endpoints=f"127.0.0.1:{closed_port()}"), timeout=5)
    unit.state = testing.State(
        config=unreachable.config,
        secrets=unreachable.secrets,
        storages=unit.state.storages,
        leader=True,
    )

    listing = unit.run("list-backups")
    shown = unit.run("show-backup", **{"backup-id": backup_id})
    message, removed = unit.fail("remove-backups", **{"backup-ids": f"{backup_id} {UNKNOWN}"})
    restore_message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})

    assert listing["count"] == "1"
    assert listing["on-controller"] == "0"
    assert listing["controller"].startswith("the controller was not asked (cannot reach")
    assert shown["archive-intact"] == "true"
    assert shown["controller"].startswith("the controller was not asked (cannot reach")
    assert removed["results"]["1"]["removed-from"] == "unit"
    assert "could not be asked" in removed["results"]["2"]["error"]
    assert "its copy, if any, stays" in removed["results"]["2"]["error"]
    assert message.startswith(f"1 of 2 could not be removed: {UNKNOWN}: ")
    assert restore_message.startswith("cannot reach the controller at 127.0.0.1:")
    # The controller still keeps its copy: nothing removed it.
    assert backup_id in sim.stored_backups


def test_restore_while_another_operation_runs(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create(**{"keep-copy": True})

    with lock.exclusive(unit.root / LOCK_NAME, "create-backup (manual)"):
        message, _ = unit.fail("restore", **{"backup-id": backup_id, "confirm": True})
        removal, _ = unit.fail("remove-backups", **{"backup-ids": backup_id})

    assert message.startswith("another backup operation is running on this unit: ")
    assert "create-backup (manual)" in message
    assert message.endswith("then run restore again")
    assert removal.endswith("then run remove-backups again")
    assert "PrepareRestore" not in backup_calls(sim)
    assert unit.catalogue.get(backup_id) is not None
