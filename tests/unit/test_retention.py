"""Retention: which archives a policy prunes."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from catalogue import Catalogue, Entry
from retention import select_for_pruning

UTC = timezone.utc
NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)
APP = "juju-backups"


def entry(
    backup_id: str,
    days_ago: float | None,
    *,
    application: str = APP,
    stored_days_ago: float = 0.0,
) -> Entry:
    started = None if days_ago is None else NOW - timedelta(days=days_ago)
    return Entry(
        id=backup_id,
        archive=Path(f"/archives/{backup_id}.tar.gz"),
        metadata={},
        size=1,
        started=started,
        stored_at=NOW - timedelta(days=stored_days_ago),
        application=application,
        trigger="scheduled",
        source="10.0.0.1:17070",
    )


def ids(entries: list[Entry]) -> list[str]:
    return [e.id for e in entries]


def daily(n: int) -> list[Entry]:
    """n archives, one a day: d0 (today) ... d{n-1}."""
    return [entry(f"d{i}", i) for i in range(n)]


def prune(entries: list[Entry], count: int = 0, days: int = 0, app: str = APP) -> list[str]:
    return ids(
        select_for_pruning(entries, application=app, keep_count=count, keep_days=days, now=NOW)
    )


def test_no_limits_prune_nothing() -> None:
    assert prune(daily(10)) == []


def test_keep_count() -> None:
    assert prune(daily(5), count=3) == ["d4", "d3"]
    assert prune(daily(5), count=5) == []
    assert prune(daily(5), count=6) == []


def test_keep_count_one_keeps_only_the_newest() -> None:
    assert prune(daily(4), count=1) == ["d3", "d2", "d1"]


def test_keep_days() -> None:
    # started more than 3 days ago: d4 (4 days), d5; exactly 3 days is kept.
    assert prune(daily(6), days=3) == ["d5", "d4"]


def test_keep_days_boundary_is_inclusive() -> None:
    entries = [
        entry("new", 0),
        entry("edge", 3),
        entry("just-over", 3 + 1 / 86400),
    ]
    assert prune(entries, days=3) == ["just-over"]


def test_both_limits_prune_what_either_says() -> None:
    entries = [entry("a", 0), entry("b", 1), entry("c", 2), entry("d", 10), entry("e", 11)]
    # count=4 prunes e; days=5 prunes d and e
    assert prune(entries, count=4, days=5) == ["e", "d"]
    # count=2 prunes c, d, e; days=30 prunes nothing
    assert prune(entries, count=2, days=30) == ["e", "d", "c"]


def test_the_newest_is_never_pruned_by_age() -> None:
    entries = [entry("old", 100), entry("older", 200)]
    assert prune(entries, days=7) == ["older"]


def test_the_newest_is_never_pruned_even_when_all_are_too_old() -> None:
    assert prune([entry("only", 365)], days=1) == []
    assert prune([entry("only", 365)], count=1, days=1) == []


def test_only_this_applications_archives_are_candidates() -> None:
    entries = [
        entry("mine-new", 0),
        entry("theirs-new", 0.5, application="other-backups"),
        entry("mine-old", 10),
        entry("theirs-old", 20, application="other-backups"),
    ]
    assert prune(entries, count=1) == ["mine-old"]
    assert prune(entries, days=5) == ["mine-old"]
    assert prune(entries, count=1, app="other-backups") == ["theirs-old"]


def test_the_newest_is_per_application() -> None:
    # Another application's archive is newer, but ours is still protected.
    entries = [entry("theirs", 0, application="other"), entry("mine", 50)]
    assert prune(entries, count=1, days=1) == []


def test_no_archives_of_this_application() -> None:
    entries = [entry("theirs", 50, application="other")]
    assert prune(entries, count=1, days=1) == []
    assert prune([], count=1, days=1) == []


def test_order_of_input_does_not_matter_and_result_is_oldest_first() -> None:
    entries = daily(8)
    shuffled = entries[:]
    random.Random(4).shuffle(shuffled)
    assert prune(shuffled, count=3) == ["d7", "d6", "d5", "d4", "d3"]


def test_unknown_start_falls_back_to_stored_at() -> None:
    entries = [
        entry("started-recently", 1),
        entry("stored-long-ago", None, stored_days_ago=30),
        entry("stored-recently", None, stored_days_ago=0),
    ]
    # stored-recently is the newest (stored now) and protected; stored-long-ago is 30 days old.
    assert prune(entries, days=7) == ["stored-long-ago"]
    assert prune(entries, count=2) == ["stored-long-ago"]


def test_started_wins_over_stored_at() -> None:
    # Stored today (copied back from elsewhere) but started 40 days ago: it is old.
    entries = [entry("new", 0), entry("restored-copy", 40, stored_days_ago=0)]
    assert prune(entries, days=7) == ["restored-copy"]


def test_ties_are_broken_by_id() -> None:
    entries = [entry("b", 1), entry("a", 1), entry("c", 1)]
    assert prune(entries, count=1) == ["a", "b"]


@pytest.mark.parametrize(("count", "days"), [(-1, 0), (0, -1)])
def test_negative_limits_are_refused(count: int, days: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        prune(daily(3), count=count, days=days)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        select_for_pruning(
            daily(3), application=APP, keep_count=1, keep_days=0, now=datetime(2026, 1, 1)
        )


def test_with_real_catalogue_entries(tmp_path: Path) -> None:
    cat = Catalogue(tmp_path)
    for day in range(1, 6):
        backup_id = f"202612{day:02d}-030000.uuid"
        cat.archive_path(backup_id).write_bytes(b"x")
        cat.add(
            backup_id,
            {"started": f"2026-12-{day:02d}T03:00:00Z", "checksum": "x"},
            application=APP,
            trigger="scheduled",
            source="10.0.0.1:17070",
        )
    doomed = select_for_pruning(cat.list(), application=APP, keep_count=2, keep_days=0, now=NOW)
    assert ids(doomed) == [
        "20261201-030000.uuid",
        "20261202-030000.uuid",
        "20261203-030000.uuid",
    ]
    for e in doomed:
        assert cat.remove(e.id)
    assert ids(cat.list()) == ["20261205-030000.uuid", "20261204-030000.uuid"]
