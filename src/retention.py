"""Which archives a retention policy prunes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from catalogue import Entry


def select_for_pruning(
    entries: Iterable[Entry],
    *,
    application: str,
    keep_count: int,
    keep_days: int,
    now: datetime,
) -> list[Entry]:
    """Choose the archives a retention policy removes.

    Only archives made by ``application`` are candidates: others on the same storage (an
    earlier deployment under another name, copies put there by hand) are not ours to delete.
    The newest of the application's archives is never chosen, whatever the policy says, so a
    policy can never leave the application without a backup. Every catalogue entry is a
    verified, complete archive, so the newest entry is the newest successful backup.

    Args:
        entries: the archives on the storage, in any order.
        application: the application whose archives the policy applies to.
        keep_count: keep this many newest archives of the application; 0 = no limit.
        keep_days: remove archives started (or, when the start is unknown, stored) more than
            this many days before ``now``; 0 = no limit.
        now: the current time (timezone-aware).

    Returns:
        The archives to remove, oldest first.

    Raises:
        ValueError: for a negative limit or a naive ``now``.
    """
    if keep_count < 0 or keep_days < 0:
        raise ValueError(
            f"retention limits cannot be negative (count {keep_count}, days {keep_days})"
        )
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ours = sorted(
        (e for e in entries if e.application == application),
        key=lambda e: (e.when, e.id),
        reverse=True,
    )
    cutoff = now - timedelta(days=keep_days)
    doomed = [
        entry
        for position, entry in enumerate(ours)
        if position > 0
        and ((keep_count and position >= keep_count) or (keep_days and entry.when < cutoff))
    ]
    doomed.reverse()
    return doomed
