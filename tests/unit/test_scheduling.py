"""scheduling: the leader's record of its schedule, and the status text made of it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import scheduling
from scheduling import MAX_SCHEDULED_FAILURES, Scheduling

NOW = datetime(2026, 12, 4, 15, 19, 30, tzinfo=timezone.utc)


def test_record_round_trips_through_a_dict() -> None:
    state = Scheduling("@daily", NOW.isoformat(), NOW.isoformat(), ((NOW.isoformat(), "x"),), 3)
    assert Scheduling.from_dict(state.to_dict()) == state


def test_from_dict_tolerates_missing_optional_keys() -> None:
    assert Scheduling.from_dict({"expr": "@daily", "since": "s"}) == Scheduling("@daily", "s")


def test_scheduled_starts_a_record() -> None:
    assert scheduling.scheduled(None, "@daily", NOW) == Scheduling("@daily", NOW.isoformat())


def test_scheduled_keeps_the_record_of_the_same_schedule() -> None:
    state = Scheduling("@daily", "earlier", failed_count=2)
    assert scheduling.scheduled(state, "@daily", NOW) is state


def test_a_new_schedule_is_due_from_now_and_keeps_the_failures() -> None:
    state = Scheduling("@daily", "earlier", "run", (("at", "why"),), 1)
    changed = scheduling.scheduled(state, "@hourly", NOW)
    assert changed == Scheduling("@hourly", NOW.isoformat(), "run", (("at", "why"),), 1)


def test_record_run_without_a_record_starts_one() -> None:
    ran = scheduling.record_run(None, NOW)
    assert ran == Scheduling("", NOW.isoformat(), last_run=NOW.isoformat())


def test_record_failure_keeps_the_newest_and_counts_all() -> None:
    state: Scheduling | None = None
    for n in range(MAX_SCHEDULED_FAILURES + 2):
        state = scheduling.record_failure(state, NOW + timedelta(minutes=n), f"reason {n}")
    assert state is not None
    assert state.failed_count == MAX_SCHEDULED_FAILURES + 2
    assert len(state.failures) == MAX_SCHEDULED_FAILURES
    assert state.failures[-1][1] == f"reason {MAX_SCHEDULED_FAILURES + 1}"


def test_record_success_clears_failures() -> None:
    state = Scheduling("@daily", "s", "r", (("at", "why"),), 1)
    assert scheduling.record_success(state) == Scheduling("@daily", "s", "r")
    assert scheduling.record_success(None) is None


def test_summary_of_an_empty_schedule() -> None:
    assert scheduling.summary("", None, NOW) == "; scheduled backups off (schedule is empty)"


def test_summary_names_the_next_run() -> None:
    assert scheduling.summary("@daily", None, NOW) == "; next backup 2026-12-05 00:00:00 UTC"


def test_summary_names_failures_and_overdue_runs() -> None:
    since = (NOW - timedelta(days=3)).isoformat()
    failures = ((NOW.isoformat(), "x" * 200),)
    state = Scheduling("@daily", since, failures=failures, failed_count=2)
    text = scheduling.summary("@daily", state, NOW)
    assert text.startswith("; 2 scheduled backups failed, last at 2026-12-04 15:19:30 UTC: xxx")
    assert "..." in text
    assert "; scheduled backup overdue (due 2026-12-02 00:00:00 UTC)" in text
    assert text.endswith("; next backup 2026-12-05 00:00:00 UTC")


def test_overdue_since_needs_more_than_one_period() -> None:
    parsed = scheduling.schedule.parse("@daily")
    assert parsed is not None
    recent = Scheduling("@daily", (NOW - timedelta(hours=30)).isoformat())
    assert scheduling.overdue_since(parsed, recent, NOW) is None
    old = Scheduling("@daily", (NOW - timedelta(hours=50)).isoformat())
    assert scheduling.overdue_since(parsed, old, NOW) == datetime(2026, 12, 3, tzinfo=timezone.utc)


def test_overdue_since_ignores_a_record_of_another_schedule() -> None:
    parsed = scheduling.schedule.parse("@daily")
    assert parsed is not None
    other = Scheduling("@hourly", (NOW - timedelta(days=30)).isoformat())
    assert scheduling.overdue_since(parsed, other, NOW) is None


def test_shorten() -> None:
    assert scheduling.shorten("short") == "short"
    assert scheduling.shorten("abc def ghi", limit=8) == "abc d..."
    assert scheduling.shorten("abc  defghi", limit=8) == "abc..."


def test_format_time_is_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert scheduling.format_time(NOW.astimezone(plus_two)) == "2026-12-04 15:19:30 UTC"
