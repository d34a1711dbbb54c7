"""Retention applied to a catalogue (prune) and the policy in words (describe)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from catalogue import Catalogue
from retention import describe, prune

NOW = datetime(2026, 12, 10, 12, tzinfo=timezone.utc)
APP = "juju-backups"


def filled(root: Path, *ages: tuple[str, float, str]) -> Catalogue:
    catalogue = Catalogue(root)
    for backup_id, days_ago, application in ages:
        catalogue.archive_path(backup_id).write_bytes(b"archive")
        started = NOW - timedelta(days=days_ago)
        catalogue.add(
            backup_id,
            {"id": backup_id, "started": started.isoformat()},
            application=application,
            trigger="scheduled",
            source="10.0.0.1:17070",
        )
    return catalogue


def test_prune_removes_what_the_policy_selects_and_nothing_else(tmp_path: Path) -> None:
    catalogue = filled(
        tmp_path, ("a", 4, APP), ("b", 3, APP), ("c", 2, APP), ("x", 9, "other"), ("d", 1, APP)
    )

    removed = prune(catalogue, application=APP, keep_count=2, keep_days=0, now=NOW)

    assert [e.id for e in removed] == ["a", "b"]  # oldest first
    assert [e.id for e in catalogue.list()] == ["d", "c", "x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.json", "c.tar.gz", "d.json", "d.tar.gz", "x.json", "x.tar.gz"
    ]  # fmt: skip


def test_dry_run_removes_nothing(tmp_path: Path) -> None:
    catalogue = filled(tmp_path, ("a", 40, APP), ("b", 20, APP), ("c", 1, APP))
    before = sorted(p.name for p in tmp_path.iterdir())

    chosen = prune(catalogue, application=APP, keep_count=0, keep_days=10, now=NOW, dry_run=True)

    assert [e.id for e in chosen] == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_prune_never_removes_the_newest(tmp_path: Path) -> None:
    catalogue = filled(tmp_path, ("a", 40, APP), ("b", 30, APP))

    removed = prune(catalogue, application=APP, keep_count=1, keep_days=1, now=NOW)

    assert [e.id for e in removed] == ["a"]
    assert [e.id for e in catalogue.list()] == ["b"]


def test_prune_refuses_negative_limits(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        prune(Catalogue(tmp_path), application=APP, keep_count=-1, keep_days=0, now=NOW)


@pytest.mark.parametrize(
    ("count", "days", "expected"),
    [
        (7, 0, "keep the 7 newest archives of juju-backups; "),
        (1, 0, "keep the newest archive of juju-backups; "),
        (0, 30, "keep the archives of juju-backups from the last 30 days; "),
        (0, 1, "keep the archives of juju-backups from the last 1 day; "),
        (7, 30, "keep the 7 newest archives of juju-backups, none older than 30 days; "),
    ],
)
def test_describe_says_what_is_kept(count: int, days: int, expected: str) -> None:
    text = describe(application=APP, keep_count=count, keep_days=days)

    assert (
        text == expected + "the newest is always kept, other applications' archives never touched"
    )


def test_describe_without_limits() -> None:
    assert describe(application=APP, keep_count=0, keep_days=0) == (
        "keep every archive of juju-backups (retention-count and retention-days are 0)"
    )
