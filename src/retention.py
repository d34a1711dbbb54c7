"""Which archives a retention policy prunes, and pruning them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from catalogue import Catalogue, Entry


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
    policy can never leave the application without a backup; nor is the one stored last.
    Every catalogue entry is a verified, complete archive, so the newest entry is the newest
    successful backup.

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
    # The archive stored last is kept too: ordered by the controller's clock, a backup taken
    # after that clock was put back looks older than the others and would be pruned at once.
    stored = sorted(ours, key=lambda e: e.stored_at, reverse=True)
    latest: Entry | None = None
    if stored and (len(stored) == 1 or stored[0].stored_at > stored[1].stored_at):
        latest = stored[0]
    doomed = [
        entry
        for position, entry in enumerate(ours)
        if position > 0
        and entry is not latest
        and ((keep_count and position >= keep_count) or (keep_days and entry.when < cutoff))
    ]
    doomed.reverse()
    return doomed


def prune(
    catalogue: Catalogue,
    *,
    application: str,
    keep_count: int,
    keep_days: int,
    now: datetime,
    dry_run: bool = False,
) -> list[Entry]:
    """Remove the archives a retention policy selects (see :func:`select_for_pruning`).

    The caller holds the unit's operation lock: the catalogue is not safe against a download
    finishing meanwhile.

    Args:
        catalogue: the archives on the storage.
        application: the application whose archives the policy applies to.
        keep_count: keep this many newest archives of the application; 0 = no limit.
        keep_days: remove archives older than this many days; 0 = no limit.
        now: the current time (timezone-aware).
        dry_run: only say what would be removed.

    Returns:
        The archives removed (or that would be), oldest first.

    Raises:
        ValueError: for a negative limit or a naive ``now``.
        OSError: the storage cannot be read, or an archive cannot be deleted.
    """
    doomed = select_for_pruning(
        catalogue.list(),
        application=application,
        keep_count=keep_count,
        keep_days=keep_days,
        now=now,
    )
    if not dry_run:
        for entry in doomed:
            catalogue.remove(entry.id)
    return doomed


def describe(*, application: str, keep_count: int, keep_days: int) -> str:
    """Say what a retention policy keeps, for an operator.

    Args:
        application: the application whose archives the policy applies to.
        keep_count: the count limit; 0 = none.
        keep_days: the age limit in days; 0 = none.

    Returns:
        One sentence.
    """
    days = f"{keep_days} day{'s' if keep_days != 1 else ''}"
    newest = "the newest archive" if keep_count == 1 else f"the {keep_count} newest archives"
    if keep_count and keep_days:
        policy = f"keep {newest} of {application}, none older than {days}"
    elif keep_count:
        policy = f"keep {newest} of {application}"
    elif keep_days:
        policy = f"keep the archives of {application} from the last {days}"
    else:
        return f"keep every archive of {application} (retention-count and retention-days are 0)"
    return f"{policy}; the newest is always kept, other applications' archives never touched"
