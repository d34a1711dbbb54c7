"""list-backups, show-backup, remove-backups and restore on every controller generation.

The charm's real code through ops[testing], the real client, the simulated controller: Juju
2.3 (Backups v1, every backup kept), 2.8 (keep-copy store, API restore), 2.9.22 and 2.9.60
(archives are one-shot files, no restore), 3.6 (Create only).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import MakeSim
from tests.functional._actions import Unit, assert_juju_keys, backup_rows, fast_retries, start

PROFILES = ["2.3.4", "2.8.11", "2.9.22", "2.9.60", "3.6.27"]
# The controllers that keep backups in their own store (and restore through the API).
STORING = {"2.3.4", "2.8.11"}


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_retries(monkeypatch)


def sha1_b64(path: Path) -> str:
    return base64.b64encode(hashlib.sha1(path.read_bytes()).digest()).decode()  # noqa: S324


def backup_calls(unit: Unit) -> list[str]:
    return [c.method for c in unit.sim.calls if c.facade == "Backups"]


@pytest.mark.parametrize("version", PROFILES)
def test_list_merges_the_unit_and_the_controller(make_sim: MakeSim, version: str) -> None:
    sim = start(make_sim, version)
    unit = Unit(sim)
    first = unit.create(notes="first")
    # 2.8 keeps what it is asked to keep; 2.3 (Backups v1) keeps every backup.
    kept = unit.create(notes="kept", **({"keep-copy": True} if version == "2.8.11" else {}))

    table = unit.run("list-backups")
    rows = backup_rows(unit.run("list-backups", format="json"))

    assert_juju_keys(table)
    assert table["count"] == "2"
    assert table["on-unit"] == "2"
    assert table["format"] == "table"
    assert version in table["controller"]
    lines = table["backups"].splitlines()
    assert lines[0].split() == ["ID", "STARTED", "(UTC)", "SIZE", "WHERE", "NOTES"]
    cells = [line.split() for line in lines[1:]]
    assert [c[0] for c in cells] == [kept, first]  # newest first
    assert [c[-1] for c in cells] == ["kept", "first"]
    where = {c[0]: c[5] for c in cells}
    expected = {
        "2.3.4": {kept: "unit,controller", first: "unit,controller"},
        "2.8.11": {kept: "unit,controller", first: "unit"},
    }.get(version, {kept: "unit", first: "unit"})
    assert where == expected
    on_controller = sum(1 for w in expected.values() if "controller" in w)
    assert table["on-controller"] == str(on_controller)
    if version in STORING:
        assert table["controller"] == (
            f"controller {version} keeps {on_controller} backup"
            f"{'' if on_controller == 1 else 's'} in its own store"
        )
    else:
        assert table["controller"].startswith(f"controller {version} keeps no backups of its own")

    assert [r["id"] for r in rows] == [kept, first]
    for row in rows:
        archive = Path(row["archive"])
        assert archive.parent == unit.root
        assert row["size"] == archive.stat().st_size
        assert row["checksum"] == sha1_b64(archive)
        assert row["version"] == version
        assert row["where"] == expected[row["id"]].split(",")
    assert "PRIVATE KEY" not in json.dumps(table) + json.dumps(rows)


@pytest.mark.parametrize("version", PROFILES)
def test_show_reports_metadata_and_a_verified_archive(make_sim: MakeSim, version: str) -> None:
    sim = start(make_sim, version)
    unit = Unit(sim)
    backup_id = unit.create(notes="to show")

    shown = unit.run("show-backup", **{"backup-id": backup_id})

    assert_juju_keys(shown)
    assert shown["backup-id"] == backup_id
    assert shown["archive-intact"] == "true"
    archive = unit.catalogue.archive_path(backup_id)
    assert shown["unit"]["archive"] == str(archive)
    assert shown["unit"]["checksum-matches"] == "true"
    assert shown["unit"]["checksum-actual"] == sha1_b64(archive)
    assert shown["unit"]["size"] == str(archive.stat().st_size)
    assert shown["unit"]["trigger"] == "manual"
    meta = shown["metadata"]
    assert meta["id"] == backup_id
    assert meta["notes"] == "to show"
    assert meta["version"] == version
    assert meta["checksum"] == sha1_b64(archive)
    assert not {"ca-cert", "ca-private-key"} & set(meta)
    assert "PRIVATE KEY" not in json.dumps(shown)
    assert sim.ca_private_key_marker not in json.dumps(shown)
    if version == "2.3.4":
        # The controller's own answer (Info), with the time it stored the backup.
        assert shown["where"] == "unit, controller"
        assert shown["controller"] == "controller 2.3.4 keeps a copy in its store"
        assert "stored" in meta
    elif version == "2.8.11":
        assert shown["where"] == "unit"
        assert shown["controller"] == "controller 2.8.11 does not have it in its store"
    else:
        assert shown["where"] == "unit"
        assert shown["controller"].startswith(f"controller {version} keeps no backups")
    # The controller is asked only where it keeps backups.
    assert ("Info" in backup_calls(unit)) == (version in STORING)
    assert any(line.startswith("verifying ") for line in unit.logs)


@pytest.mark.parametrize("version", PROFILES)
def test_remove_removes_from_everywhere_and_reports_each_id(
    make_sim: MakeSim, version: str
) -> None:
    sim = start(make_sim, version)
    unit = Unit(sim)
    first = unit.create(notes="first")
    kept = unit.create(notes="kept", **({"keep-copy": True} if version == "2.8.11" else {}))

    message, removed = unit.fail(
        "remove-backups", **{"backup-ids": f"{first}, 20200101-000000.unknown {kept} ../etc"}
    )

    assert_juju_keys(removed)
    assert removed["removed"] == "2"
    assert removed["failed"] == "2"
    results = removed["results"]
    assert [results[k]["id"] for k in sorted(results)] == [
        first,
        "20200101-000000.unknown",
        kept,
        "../etc",
    ]
    assert results["1"]["removed-from"] == ("unit, controller" if version == "2.3.4" else "unit")
    assert results["3"]["removed-from"] == ("unit, controller" if version in STORING else "unit")
    assert "error" not in results["1"]
    assert "error" not in results["3"]
    assert results["2"]["removed-from"] == "nowhere"
    assert "no backup 20200101-000000.unknown on this unit" in results["2"]["error"]
    assert "is not valid" in results["4"]["error"]
    assert message.startswith("2 of 4 could not be removed: 20200101-000000.unknown: ")
    assert "../etc: " in message
    assert unit.catalogue.list() == []
    assert sim.stored_backups == {}
    after = unit.run("list-backups")
    assert after["count"] == "0"
    assert after["backups"] == "no backups"


@pytest.mark.parametrize("version", sorted(STORING))
def test_full_restore_with_the_controller_restarting(make_sim: MakeSim, version: str) -> None:
    sim = start(make_sim, version)
    unit = Unit(sim)
    backup_id = unit.create(
        notes="restore me", **({"keep-copy": True} if version != "2.3.4" else {})
    )

    plan = unit.run("restore", **{"backup-id": backup_id})

    assert_juju_keys(plan)
    assert plan["controller-version"] == version
    assert plan["controller-id"] == backup_id
    assert plan["upload-needed"] == "false"
    assert plan["archive-intact"] == "true"
    assert "PrepareRestore" in plan["plan"]
    assert f"restore backup-id={backup_id} confirm=true" in plan["next"]
    # A check changes nothing.
    assert sim.restore_status == "NOT-RESTORING"
    assert "PrepareRestore" not in backup_calls(unit)

    done = unit.run("restore", **{"backup-id": backup_id, "confirm": True})

    assert_juju_keys(done)
    assert done["restored"] == backup_id
    assert done["uploaded"] == "false"
    assert done["resumed"] == "false"
    assert sim.restore_status == "CHECKED"
    calls = backup_calls(unit)
    assert calls.index("PrepareRestore") < calls.index("Restore") < len(calls) - 1
    assert calls[-1] == "FinishRestore"
    restore_call = next(c for c in sim.calls if c.method == "Restore")
    assert restore_call.params == {"backup-id": backup_id}
    steps = [line.split(":")[0] for line in unit.logs if line.split(":")[0] in STEP_NAMES]
    assert steps == ["PrepareRestore", "Restore", "FinishRestore"]
    # The controller restarted: the charm reconnected after refusals.
    assert any(line.startswith("not back yet (") for line in unit.logs)
    assert not unit.restore_state.exists()


def test_restore_uploads_an_archive_the_controller_lacks(make_sim: MakeSim) -> None:
    sim = start(make_sim, "2.8.11")
    unit = Unit(sim)
    backup_id = unit.create()  # not kept: only the unit has it
    assert sim.stored_backups == {}

    plan = unit.run("restore", **{"backup-id": backup_id})
    done = unit.run("restore", **{"backup-id": backup_id, "confirm": True})

    assert plan["upload-needed"] == "true"
    assert "as the controller does not have it" in plan["plan"]
    assert "controller-id" not in plan  # the upload gives it one
    assert done["uploaded"] == "true"
    assert done["restored"] in sim.stored_backups
    assert sim.stored_backups[done["restored"]]["checksum"] == sha1_b64(
        unit.catalogue.archive_path(backup_id)
    )
    assert sim.restore_status == "CHECKED"
    order = [line.split(" ")[0] for line in unit.logs]
    assert order.index("uploading") < order.index("uploaded") < order.index("Restore:")
    http = [c.method for c in sim.calls if c.facade == "HTTP"]
    assert http[-1] == "PUT backups"
    restore_call = next(c for c in sim.calls if c.method == "Restore")
    assert restore_call.params == {"backup-id": done["restored"]}


STEP_NAMES = {"PrepareRestore", "Restore", "FinishRestore"}


@pytest.mark.parametrize("version", ["2.9.22", "2.9.60", "3.6.27"])
@pytest.mark.parametrize("confirm", [False, True])
def test_restore_refusal_names_juju_restore_and_the_archive(
    make_sim: MakeSim, version: str, confirm: bool
) -> None:
    sim = start(make_sim, version)
    unit = Unit(sim)
    backup_id = unit.create()
    archive = unit.catalogue.archive_path(backup_id)

    message, results = unit.fail("restore", **{"backup-id": backup_id, "confirm": confirm})

    assert message.startswith(f"controller {version} cannot restore through its API")
    assert "standalone juju-restore tool" in message
    assert f"The archive is on this unit at {archive}" in message
    assert f"juju scp juju-backups/0:{archive} ." in message
    assert results == {}
    assert not STEP_NAMES & set(backup_calls(unit))
    assert archive.is_file()
