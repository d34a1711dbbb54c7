"""The leader's record of its schedule: runs, failures, and what the status says of them.

The charm keeps a :class:`Scheduling` in StoredState; everything here is a pure function over
it, so the bookkeeping is tested without ops.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import schedule

# Failed scheduled runs kept for the status; older ones are only counted.
MAX_SCHEDULED_FAILURES = 10
# A failure's reason in the status is cut here: the full text is in juju debug-log.
STATUS_REASON_LENGTH = 120


@dataclass(frozen=True)
class Scheduling:
    """The leader's record of its schedule, kept in StoredState for the status.

    Attributes:
        expr: the schedule the cron entry was written for.
        since: when this unit started scheduling it (ISO 8601, UTC).
        last_run: when the last scheduled run started (ISO 8601), "" before the first.
        failures: the newest failed runs since the last success, oldest first: "at" (ISO
            8601) and "reason".
        failed_count: how many runs failed since the last success (failures keeps only the
            newest MAX_SCHEDULED_FAILURES).
    """

    expr: str
    since: str
    last_run: str = ""
    failures: tuple[tuple[str, str], ...] = ()
    failed_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "expr": self.expr,
            "since": self.since,
            "last-run": self.last_run,
            "failures": [{"at": at, "reason": reason} for at, reason in self.failures],
            "failed-count": self.failed_count,
        }

    @classmethod
    def from_dict(cls, stored: Any) -> Scheduling:
        return cls(
            expr=str(stored["expr"]),
            since=str(stored["since"]),
            last_run=str(stored.get("last-run", "")),
            failures=tuple((str(f["at"]), str(f["reason"])) for f in stored.get("failures", [])),
            failed_count=int(stored.get("failed-count", 0)),
        )


def scheduled(state: Scheduling | None, expr: str, now: datetime) -> Scheduling:
    """The record once the cron entry is written for ``expr``.

    Args:
        state: the record so far, None if this unit scheduled nothing yet.
        expr: the schedule now in force.
        now: the current time.

    Returns:
        ``state`` if the schedule is unchanged; otherwise a record whose schedule is due from
        ``now`` (what failed under the old one still shows).
    """
    if state is None:
        return Scheduling(expr, now.isoformat())
    if state.expr != expr:
        return dataclasses.replace(state, expr=expr, since=now.isoformat())
    return state


def record_run(state: Scheduling | None, started: datetime) -> Scheduling:
    """The record once a scheduled run has started at ``started``."""
    if state is None:  # the entry predates this unit's record (or StoredState was lost)
        state = Scheduling(expr="", since=started.isoformat())
    return dataclasses.replace(state, last_run=started.isoformat())


def record_failure(state: Scheduling | None, started: datetime, reason: str) -> Scheduling:
    """The record once the run started at ``started`` has failed for ``reason``."""
    state = state or Scheduling(expr="", since=started.isoformat())
    failures = (*state.failures, (started.isoformat(), reason))[-MAX_SCHEDULED_FAILURES:]
    return dataclasses.replace(state, failures=failures, failed_count=state.failed_count + 1)


def record_success(state: Scheduling | None) -> Scheduling | None:
    """The record once a scheduled run has succeeded: the failures are cleared."""
    if state is None:
        return None
    return dataclasses.replace(state, failures=(), failed_count=0)


def summary(expr: str, state: Scheduling | None, now: datetime) -> str:
    """The schedule's part of the leader's Active status.

    Args:
        expr: the schedule option.
        state: the leader's record, if any.
        now: the current time.

    Returns:
        Text starting with "; ".
    """
    parsed = schedule.parse(expr)
    if parsed is None:
        return "; scheduled backups off (schedule is empty)"
    parts: list[str] = []
    if state is not None and state.failures:
        at, reason = state.failures[-1]
        count = state.failed_count
        what = f"{count} scheduled backups failed" if count > 1 else "scheduled backup failed"
        parts.append(
            f"{what}, last at {format_time(datetime.fromisoformat(at))}: {shorten(reason)}"
        )
    if state is not None:
        due = overdue_since(parsed, state, now)
        if due is not None:
            parts.append(f"scheduled backup overdue (due {format_time(due)})")
    parts.append(f"next backup {format_time(parsed.next_after(now))}")
    return "; " + "; ".join(parts)


def overdue_since(parsed: schedule.Schedule, state: Scheduling, now: datetime) -> datetime | None:
    """When the first missed run was due, if it was missed by more than one period."""
    if state.expr != parsed.expr:
        return None  # recorded under another schedule: nothing to compare with
    reference = max(datetime.fromisoformat(at) for at in (state.since, state.last_run) if at)
    due = parsed.next_after(reference)
    return due if now > due + parsed.period_at(due) else None


def shorten(text: str, limit: int = STATUS_REASON_LENGTH) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut with "..."."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def format_time(value: datetime) -> str:
    """A time as the status shows it: "YYYY-MM-DD HH:MM:SS UTC"."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
