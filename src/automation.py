"""Pure glue between the backups relation's library types and the backup service.

Related applications ask for backups through the ``backups`` relation; this module turns the
service's results and errors into what the interface lets them see. It knows nothing of ops
beyond the library's plain types.
"""

from __future__ import annotations

from charms.juju_backups.v0.backups import BackupRequest, LastBackup

from catalogue import Entry
from service import (
    DownloadFailedError,
    NotEnoughSpaceError,
    OperatorFixError,
    ServiceError,
    UnavailableError,
)


def last_backup_of(entry: Entry) -> LastBackup:
    """The summary related applications see of a backup.

    Args:
        entry: the stored backup.

    Returns:
        Its id, when it was stored (the end of the backup) and its size.
    """
    return LastBackup(id=entry.id, finished_at=entry.stored_at, size=entry.size)


def relation_error(error: ServiceError) -> str:
    """Say why a requested backup failed, to a related application.

    The service's own messages name controller addresses, CA files and storage paths, which
    the interface keeps out of relation data: they go to this unit's log, and the requirer
    learns what kind of failure it was and where to look.

    Args:
        error: what the service raised.

    Returns:
        One line for the answer's `error`.
    """
    if isinstance(error, OperatorFixError):
        what = "juju-backups cannot take backups until its operator fixes its setup"
    elif isinstance(error, UnavailableError):
        what = "the controller is unreachable or busy; ask again later"
    elif isinstance(error, NotEnoughSpaceError):
        what = "there is not enough space on the archives storage of juju-backups"
    elif isinstance(error, DownloadFailedError):
        what = "the archive could not be downloaded and verified; ask again"
    else:
        what = "the controller could not take the backup"
    return f"backup failed: {what} (the status and debug-log of juju-backups say more)"


def requested_notes(request: BackupRequest) -> str:
    """The requester's notes and reason, as text added to the backup's notes."""
    reason = f"(reason: {request.reason})" if request.reason else ""
    return " ".join(part for part in (request.notes, reason) if part)
