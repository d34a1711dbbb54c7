"""inventory: merging the unit's archives with the controller's store, and typed ids."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from catalogue import Catalogue, Entry
from inventory import (
    BackupDetails,
    Removal,
    RemovalOutcome,
    clean_metadata,
    merge,
    parse_ids,
)
from juju_api import BackupMetadata

UUID = "6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


def meta(stamp: str, **extra: object) -> BackupMetadata:
    started = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:00Z"
    return BackupMetadata.from_wire(
        {
            "id": f"{stamp}.{UUID}",
            "checksum": f"sum-{stamp}=",
            "checksum-format": "SHA-1, base64 encoded",
            "size": 100,
            "stored": started,
            "started": started,
            "finished": started,
            "notes": f"notes {stamp}",
            "model": UUID,
            "machine": "0",
            "hostname": "juju-0",
            "version": "2.8.11",
            "ca-private-key": "-----BEGIN RSA PRIVATE KEY-----",
            **extra,
        }
    )


def stored(tmp_path: Path, remote: BackupMetadata) -> Entry:
    catalogue = Catalogue(tmp_path)
    catalogue.archive_path(remote.id).write_bytes(b"x" * 7)
    return catalogue.add(
        remote.id, remote.to_wire(), application="jb", trigger="manual", source="10.0.0.1"
    )


@pytest.mark.parametrize(
    ("typed", "ids"),
    [
        ("a", ["a"]),
        ("a,b", ["a", "b"]),
        ("a, b  c\td\n", ["a", "b", "c", "d"]),
        (" ,a,,b, ", ["a", "b"]),
        ("a b a", ["a", "b"]),
        ("", []),
        (" , ", []),
    ],
)
def test_parse_ids(typed: str, ids: list[str]) -> None:
    assert parse_ids(typed) == ids


def test_merge_by_id_newest_first(tmp_path: Path) -> None:
    both = meta("20261201-1000")
    only_controller = meta("20261203-1000")
    local_both = stored(tmp_path, both)
    local_only = stored(tmp_path, meta("20261202-1000"))

    rows = merge([local_only, local_both], [both, only_controller])

    assert [r.id for r in rows] == [only_controller.id, local_only.id, both.id]
    assert [r.locations for r in rows] == [("controller",), ("unit",), ("unit", "controller")]
    assert rows[0].archive is None
    assert rows[0].size == 100  # the controller's word, as there is no local copy
    assert rows[1].size == 7  # the archive on the unit
    assert rows[2].archive == local_both.archive
    assert rows[2].notes == "notes 20261201-1000"


def test_merge_orders_by_start_else_storage_time(tmp_path: Path) -> None:
    dated = stored(tmp_path, meta("20261201-1000"))
    catalogue = Catalogue(tmp_path)
    catalogue.archive_path("undated").write_bytes(b"y")
    undated = catalogue.add(
        "undated", {"id": "undated"}, application="jb", trigger="manual", source=""
    )
    timeless = meta("20261130-1000", started="0001-01-01T00:00:00Z", stored="0001-01-01T00:00:00Z")

    rows = merge([dated, undated], [timeless])

    # The undated archive was stored now: newest. Nothing says when the last one was made.
    assert undated.started is None
    assert [r.id for r in rows] == ["undated", dated.id, timeless.id]
    assert rows[0].started is None
    assert rows[0].notes == ""


def test_clean_metadata_drops_ca_material_and_unknowns() -> None:
    cleaned = clean_metadata(
        {
            "id": "x",
            "ca-cert": "PEM",
            "ca-private-key": "KEY",
            "stored": "0001-01-01T00:00:00Z",
            "started": "2026-12-04T15:19:00Z",
            "series": None,
            "base": "",
            "size": 0,
        }
    )

    assert cleaned == {"id": "x", "started": "2026-12-04T15:19:00Z", "size": 0}


def test_details_archive_intact(tmp_path: Path) -> None:
    entry = stored(tmp_path, meta("20261201-1000"))

    def details(expected: str | None, actual: str | None, local: Entry | None = entry):
        return BackupDetails(entry.id, {}, local, expected, actual, False, "")

    assert details("a=", "a=").archive_intact is True
    assert details("a=", "b=").archive_intact is False
    assert details(None, None).archive_intact is False  # nothing to check it against
    assert details("a=", None).archive_intact is False  # unreadable
    assert details(None, None, local=None).archive_intact is None
    assert details(None, None, local=None).locations == ()


def test_removal_failed() -> None:
    removal = Removal(
        [RemovalOutcome("a", ("unit",)), RemovalOutcome("b", error="no backup b")], "note"
    )

    assert [o.id for o in removal.failed] == ["b"]
    assert Removal().failed == []


def test_start_time_is_timezone_aware(tmp_path: Path) -> None:
    (row,) = merge([stored(tmp_path, meta("20261201-1000"))], [])

    assert row.started == datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.timezone.utc)
