"""One operation at a time per unit: an exclusive, non-blocking file lock.

``flock`` locks belong to an open file description, so the kernel drops the lock when the
holder exits or dies, and a second ``open`` of the same file (another process, or another
thread of this one) conflicts with the first. While held, the file records what holds it so
that a refused caller can say what is running. The file is never deleted: removing a lock file
lets two processes lock two different inodes under the same name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

_MAX_RECORD = 64 * 1024


class Busy(Exception):  # noqa: N818 -- the contract's name
    """Another operation holds the lock.

    Attributes:
        holder: what holds it, for people: description, pid and since when.
        description: the holder's own description ("" if it could not be read).
        pid: the holder's process id (None if it could not be read).
        since: when the holder took the lock (None if it could not be read).
    """

    def __init__(
        self, description: str, pid: int | None = None, since: datetime | None = None
    ) -> None:
        self.description = description
        self.pid = pid
        self.since = since
        self.holder = _describe(description, pid, since)
        super().__init__(f"another operation is running: {self.holder}")


@contextlib.contextmanager
def exclusive(path: Path, description: str) -> Iterator[None]:
    """Hold the lock at ``path`` for the duration of the ``with`` block.

    Args:
        path: the lock file (created if missing; its directory must exist).
        description: what the holder is doing, shown to whoever is refused.

    Yields:
        Nothing; the lock is held until the block ends.

    Raises:
        Busy: at once, if another process or thread holds the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise Busy(*_read_record(path)) from None
        record = {
            "description": description,
            "pid": os.getpid(),
            "since": datetime.now(timezone.utc).isoformat(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield
        finally:
            # Cleared before unlocking so that the record never outlives the lock it describes.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def holder(path: Path) -> str | None:
    """Say what holds the lock, without taking it.

    Probing with ``flock`` would make a concurrent :func:`exclusive` fail for the instant of
    the probe, so this reads the record instead and checks that its process is alive: a
    holder that died leaves its record behind but not its lock.

    Args:
        path: the lock file.

    Returns:
        The holder's description, pid and start time, or None if nothing holds the lock.
    """
    if not path.exists():
        return None
    description, pid, since = _read_record(path)
    if pid is None or not _alive(pid):
        return None
    return _describe(description, pid, since)


def _read_record(path: Path) -> tuple[str, int | None, datetime | None]:
    try:
        with path.open("rb") as f:
            record = json.loads(f.read(_MAX_RECORD))
    except (OSError, ValueError):
        return "", None, None
    if not isinstance(record, dict):
        return "", None, None
    description = record.get("description")
    pid = record.get("pid")
    try:
        since = datetime.fromisoformat(str(record.get("since")))
    except ValueError:
        since = None
    return (
        description if isinstance(description, str) else "",
        pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None,
        since,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours to signal
    return True


def _describe(description: str, pid: int | None, since: datetime | None) -> str:
    what = description or "an operation that has not said what it is"
    details = []
    if pid is not None:
        details.append(f"pid {pid}")
    if since is not None:
        details.append(f"since {since.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')} UTC")
    return f"{what} ({', '.join(details)})" if details else what
