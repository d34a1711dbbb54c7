"""reports: action results that follow Juju's rules, and the list as one table or JSON."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

from catalogue import Entry
from inventory import BackupListing, BackupRow, Removal, RemovalOutcome
from reports import (
    describe_archive,
    last_backup_record,
    listing_results,
    outcome_results,
    plan_results,
    prune_results,
    removal_failure,
    render_json,
    render_table,
    status_summary,
    string_metadata,
)
from restore import RestoreOutcome, RestorePlan

WHEN = datetime.datetime(2026, 12, 4, 15, 19, tzinfo=datetime.timezone.utc)


def row(backup_id: str, notes: str = "", **kw: object) -> BackupRow:
    values: dict[str, object] = {
        "id": backup_id,
        "started": WHEN,
        "size": 1536,
        "notes": notes,
        "checksum": "abc=",
        "version": "3.6.27",
        "archive": Path(f"/srv/{backup_id}.tar.gz"),
        "on_controller": False,
    }
    values.update(kw)
    return BackupRow(**values)  # pyright: ignore[reportArgumentType]


def test_table_columns_line_up() -> None:
    table = render_table(
        [
            row("a-long-backup-id", "first"),
            row("b", "", started=None, archive=None, on_controller=True),
        ]
    )

    lines = table.splitlines()
    assert lines[0] == ("ID                STARTED (UTC)        SIZE     WHERE       NOTES")
    assert lines[1] == "a-long-backup-id  2026-12-04 15:19:00  1.5 KiB  unit        first"
    assert lines[2] == "b                 -                    1.5 KiB  controller  -"
    assert all(not line.endswith(" ") for line in lines)


def test_table_keeps_each_backup_on_one_line() -> None:
    notes = "line one\nline two\t" + "x" * 80

    (_, line) = render_table([row("a", notes)]).splitlines()

    assert "\n" not in line
    assert line.endswith("line one line two " + "x" * 27 + "...")
    assert len(line.rsplit("unit", 1)[1].strip()) == 48


def test_table_without_backups() -> None:
    assert render_table([]) == "no backups"


def test_json_is_one_parseable_document() -> None:
    rows = json.loads(render_json([row("a", "n", on_controller=True), row("b", archive=None)]))

    assert rows == [
        {
            "id": "a",
            "started": "2026-12-04T15:19:00Z",
            "size": 1536,
            "notes": "n",
            "checksum": "abc=",
            "version": "3.6.27",
            "where": ["unit", "controller"],
            "archive": "/srv/a.tar.gz",
        },
        {
            "id": "b",
            "started": "2026-12-04T15:19:00Z",
            "size": 1536,
            "notes": "",
            "checksum": "abc=",
            "version": "3.6.27",
            "where": [],
            "archive": None,
        },
    ]


def test_many_backups_stay_one_result() -> None:
    rows = [row(f"20261204-{n:06d}.x") for n in range(2000)]

    results = listing_results(BackupListing(rows, "note"), "table")

    assert set(results) == {"count", "on-unit", "on-controller", "controller", "format", "backups"}
    assert results["count"] == "2000"
    assert len(results["backups"].splitlines()) == 2001


def test_string_metadata_keeps_only_legal_keys_and_no_ca() -> None:
    cleaned = string_metadata(
        {
            "id": "x",
            "size": 12,
            "ha-nodes": 3,
            "ca-cert": "PEM",
            "ca-private-key": "KEY",
            "Controller_UUID": "u",
            "with.dot": "d",
            "stored": "0001-01-01T00:00:00Z",
        }
    )

    assert cleaned == {"id": "x", "size": "12", "ha-nodes": "3"}


def test_plan_results_say_why_an_upload_is_needed() -> None:
    plan = RestorePlan(
        backup_id="b",
        controller_version="2.8.11",
        endpoint="10.0.0.1:17070",
        archive=Path("/srv/b.tar.gz"),
        size=1 << 20,
        controller_id=None,
        upload=True,
        controller_differs=True,
    )

    results = plan_results(plan, timeout=90, unit="juju-backups/1")

    assert (
        "2. upload b.tar.gz (1.0 MiB), as the controller's copy has other content"
        in (results["plan"])
    )
    assert "wait up to 90 s" in results["plan"]
    assert results["next"].endswith("juju run juju-backups/1 restore backup-id=b confirm=true")
    assert all(re.fullmatch(r"[a-z0-9-]+", key) for key in results)


def test_outcome_results() -> None:
    results = outcome_results(
        RestoreOutcome(
            backup_id="b",
            controller_id="c",
            controller_version="2.8.11",
            uploaded=False,
            resumed=True,
            started_at=WHEN,
            finished_at=WHEN + datetime.timedelta(seconds=90),
        )
    )

    assert results == {
        "backup-id": "b",
        "restored": "c",
        "controller-version": "2.8.11",
        "uploaded": "false",
        "resumed": "true",
        "started-at": "2026-12-04 15:19:00 UTC",
        "finished-at": "2026-12-04 15:20:30 UTC",
        "result": "controller 2.8.11 restored backup c and confirmed it (FinishRestore)",
    }


def test_a_long_removal_failure_names_the_first_few() -> None:
    outcomes = [RemovalOutcome(f"id{n}", error=f"no backup id{n}") for n in range(5000)]

    message = removal_failure(Removal([RemovalOutcome("ok", ("unit",)), *outcomes]))

    assert message.startswith("5000 of 5001 could not be removed: id0: no backup id0; id1: ")
    assert message.endswith("id4: no backup id4; and 4995 more (see the results)")


def archive_entry(backup_id: str = "b1", size: int = 1536) -> Entry:
    return Entry(
        id=backup_id,
        archive=Path(f"/srv/{backup_id}.tar.gz"),
        metadata={},
        size=size,
        started=WHEN,
        stored_at=WHEN,
        application="juju-backups",
        trigger="manual",
        source="10.0.0.1:17070",
    )


def test_describe_archive() -> None:
    assert describe_archive(archive_entry()) == "b1 (2026-12-04 15:19:00 UTC, 1.5 KiB)"


def test_prune_results_of_a_dry_run() -> None:
    results = prune_results([archive_entry()], dry_run=True, policy="p", remaining=3)
    assert results == {
        "dry-run": "true",
        "policy": "p",
        "summary": "1 of 3 archives would be removed (run prune-backups dry-run=false to remove "
        "them)",
        "archives": "b1 (2026-12-04 15:19:00 UTC, 1.5 KiB)",
    }


def test_prune_results_of_a_removal() -> None:
    assert prune_results([], dry_run=False, policy="p", remaining=1) == {
        "dry-run": "false",
        "policy": "p",
        "summary": "removed 0 of 1 archive",
    }


def test_status_summary() -> None:
    assert status_summary(None, None) == "ready; no backup taken yet (run create-backup)"
    last = last_backup_record(archive_entry())
    assert last == {"id": "b1", "at": "2026-12-04 15:19:00 UTC", "size": 1536}
    assert status_summary(last, "then") == (
        "last backup b1 at 2026-12-04 15:19:00 UTC (1.5 KiB); the attempt at then failed "
        "(see juju show-operation)"
    )
