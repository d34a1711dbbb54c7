"""The backup archives kept on the unit's storage, each with its metadata beside it.

Layout of the storage root::

    <stem>.tar.gz     the archive, exactly as the controller served it
    <stem>.json       what we know about it; written last, atomically
    .<name>.<random>.part
                      a file being written (download or metadata); never trusted

``<stem>`` is the backup id without a trailing ``.tar.gz``, so that both 2.x ids
(``20261204-151900.<uuid>``) and 3.x file names (``juju-backup-20261204-151900.tar.gz``) map to
one archive and one metadata file. An archive only counts once its metadata exists: the
metadata file is the commit record, which is why it is written last.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from atomicfile import PART_SUFFIX, write_atomically

ARCHIVE_SUFFIX = ".tar.gz"
METADATA_SUFFIX = ".json"
FORMAT = 1
CHUNK_SIZE = 1 << 20
MAX_ID_LENGTH = 200

# Keys the 2.x Backups facade returns that carry the controller's CA (and its private key):
# they must never be written to the unit's disk.
_SECRET_KEYS = frozenset({"ca-cert", "ca-private-key", "ca_cert", "ca_private_key"})
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RFC3339_RE = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:\d{2})"
)


class CatalogueError(Exception):
    """Something about the local archive store is wrong."""


class InvalidBackupId(CatalogueError, ValueError):  # noqa: N818 -- the contract's name
    """A backup id that cannot safely name a file on the storage."""


class UnknownBackupError(CatalogueError, LookupError):
    """No complete archive with that id is on the storage."""


@dataclass(frozen=True)
class Entry:
    """One complete archive on the storage.

    Attributes:
        id: the backup id as given to :meth:`Catalogue.add`.
        archive: path of the archive file.
        metadata: the controller's metadata, wire (kebab-case) keys, without CA material.
        size: the archive's size on disk in bytes.
        started: when the controller started the backup (None if it did not say).
        stored_at: when the archive was added to the catalogue (UTC).
        application: the application whose unit made it.
        trigger: what started it: ``manual``, ``scheduled`` or a requesting application.
        source: the API endpoint (``host:port``) the archive was downloaded from.
    """

    id: str
    archive: Path
    metadata: dict[str, Any]
    size: int
    started: datetime | None
    stored_at: datetime
    application: str
    trigger: str
    source: str

    @property
    def when(self) -> datetime:
        """The time the backup is ordered by: started, or stored_at when that is unknown."""
        return self.started if self.started is not None else self.stored_at


def validate_id(backup_id: str) -> str:
    """Check that a backup id can name files on the storage.

    Args:
        backup_id: the id to check.

    Returns:
        The id, unchanged.

    Raises:
        InvalidBackupId: if the id is empty, too long, starts with anything but a letter or
            digit, or holds anything but letters, digits, ``.``, ``_`` and ``-``.
    """
    if not isinstance(backup_id, str) or not backup_id:
        raise InvalidBackupId("backup id is empty")
    if len(backup_id) > MAX_ID_LENGTH:
        raise InvalidBackupId(
            f"backup id is {len(backup_id)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    if not _ID_RE.fullmatch(backup_id):
        raise InvalidBackupId(
            f"backup id {backup_id!r} is not valid: it must start with a letter or digit and "
            "hold only letters, digits, '.', '_' and '-'"
        )
    return backup_id


def checksum(path: Path, chunk_size: int = CHUNK_SIZE) -> str:
    """Return the checksum Juju uses for archives: standard base64 of the file's SHA-1.

    Args:
        path: the file to read.
        chunk_size: how much to read at a time.

    Returns:
        The base64-encoded SHA-1 digest.
    """
    # Juju's own archive checksum format; SHA-1 is not relied on for security here.
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def parse_time(value: object) -> datetime | None:
    """Parse an RFC 3339 time as Juju writes it; Go's zero time (year 1) means unknown.

    Go writes up to nine fractional digits, which ``datetime.fromisoformat`` on Python 3.10
    refuses, so the fraction is cut to microseconds here.

    Args:
        value: the wire value (a string, or already a datetime).

    Returns:
        An aware datetime in UTC, or None for a missing, empty, zero or unparsable value.
    """
    if isinstance(value, datetime):
        parsed = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, str) and (m := _RFC3339_RE.fullmatch(value.strip())):
        frac = (m["frac"] or "")[:6].ljust(6, "0")
        tz = "+00:00" if m["tz"] in ("Z", "z") else m["tz"]
        try:
            parsed = datetime.fromisoformat(f"{m['base'].replace(' ', 'T')}.{frac}{tz}")
        except ValueError:
            return None
    else:
        return None
    if parsed.year <= 1:
        return None
    return parsed.astimezone(timezone.utc)


def format_time(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` suffix.

    Args:
        value: the time to format.

    Returns:
        The formatted time.
    """
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"metadata value of type {type(value).__name__} is not JSON serialisable")


class Catalogue:
    """The archives on the unit's storage.

    Not safe against concurrent writers: callers hold the operation lock (see ``lock.py``)
    while they add, remove or clean up.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Catalogue({str(self.root)!r})"

    def archive_path(self, backup_id: str) -> Path:
        """Return where the archive of a backup lives (the download destination).

        Args:
            backup_id: a Juju backup id or archive file name.

        Returns:
            ``<root>/<stem>.tar.gz``.

        Raises:
            InvalidBackupId: if the id cannot safely name a file.
        """
        return self.root / f"{self._stem(backup_id)}{ARCHIVE_SUFFIX}"

    def metadata_path(self, backup_id: str) -> Path:
        """Return where the metadata of a backup lives.

        Args:
            backup_id: a Juju backup id or archive file name.

        Returns:
            ``<root>/<stem>.json``.

        Raises:
            InvalidBackupId: if the id cannot safely name a file.
        """
        return self.root / f"{self._stem(backup_id)}{METADATA_SUFFIX}"

    def add(
        self,
        backup_id: str,
        metadata: Mapping[str, Any],
        *,
        application: str,
        trigger: str,
        source: str,
        stored_at: datetime | None = None,
    ) -> Entry:
        """Record an archive that is already in place at :meth:`archive_path`.

        CA material (``ca-cert``, ``ca-private-key``) is dropped from the metadata.

        Args:
            backup_id: the backup's id.
            metadata: the controller's metadata with wire (kebab-case) keys.
            application: the application whose unit made the backup.
            trigger: what started it (``manual``, ``scheduled``, a requesting application).
            source: the API endpoint the archive was downloaded from.
            stored_at: when it was stored; now if not given.

        Returns:
            The new entry.

        Raises:
            InvalidBackupId: if the id cannot safely name a file.
            CatalogueError: if the archive is not in place.
            TypeError: if a local field is not a string or the metadata is not JSON-able.
        """
        archive = self.archive_path(backup_id)
        for name, value in (
            ("application", application),
            ("trigger", trigger),
            ("source", source),
        ):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, not {type(value).__name__}")
        if not archive.is_file():
            raise CatalogueError(f"archive of backup {backup_id} is not at {archive}")
        stored_at = stored_at or datetime.now(timezone.utc)
        if stored_at.tzinfo is None:
            raise ValueError("stored_at must be timezone-aware")
        record = {
            "format": FORMAT,
            "id": backup_id,
            "archive": archive.name,
            "application": application,
            "trigger": trigger,
            "source": source,
            "stored-at": format_time(stored_at),
            "metadata": {k: v for k, v in metadata.items() if k not in _SECRET_KEYS},
        }
        data = json.dumps(record, indent=2, sort_keys=True, default=_json_default)
        write_atomically(self.metadata_path(backup_id), (data + "\n").encode())
        entry = self._load(self.metadata_path(backup_id))
        if entry is None:  # pragma: no cover - only if the archive vanished meanwhile
            raise CatalogueError(f"archive of backup {backup_id} vanished while storing it")
        return entry

    def list(self) -> list[Entry]:
        """Return the complete archives, newest first.

        An entry is complete when its metadata is valid and its archive exists. Order is by
        the controller's ``started`` time, falling back to when it was stored.

        Returns:
            The entries.

        Raises:
            OSError: if the storage itself cannot be read (for instance, it is not attached).
        """
        entries = []
        for path in self._files():
            if path.name.endswith(METADATA_SUFFIX) and (entry := self._load(path)):
                entries.append(entry)
        entries.sort(key=lambda e: (e.when, e.id), reverse=True)
        return entries

    def get(self, backup_id: str) -> Entry | None:
        """Return one complete archive, or None if there is none with that id.

        Args:
            backup_id: the backup's id (or its archive file name).

        Returns:
            The entry, or None.

        Raises:
            InvalidBackupId: if the id cannot safely name a file.
        """
        return self._load(self.metadata_path(backup_id))

    def remove(self, backup_id: str) -> bool:
        """Delete a backup's metadata and archive.

        The metadata goes first: if we are interrupted, what is left is an archive without
        metadata, which :meth:`cleanup` deletes.

        Args:
            backup_id: the backup's id.

        Returns:
            True if anything was deleted, False if the backup was unknown.

        Raises:
            InvalidBackupId: if the id cannot safely name a file.
        """
        removed = False
        for path in (self.metadata_path(backup_id), self.archive_path(backup_id)):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed = True
        return removed

    def cleanup(self) -> list[Path]:
        """Delete what interrupted writes and removals left behind.

        That is: ``*.part`` files (downloads and metadata being written), archives without a
        metadata file, and metadata files without an archive. Archives whose metadata exists
        but cannot be read are kept: deleting a backup because of a parse failure would lose
        data.

        Only call this while no download is running (hold the operation lock).

        Returns:
            The paths deleted.
        """
        removed = []
        names = {p.name for p in self._files(include_hidden=True)}
        for name in sorted(names):
            path = self.root / name
            if name.endswith(PART_SUFFIX):
                stale = True
            elif name.startswith("."):
                stale = False
            elif name.endswith(ARCHIVE_SUFFIX):
                stale = f"{name[: -len(ARCHIVE_SUFFIX)]}{METADATA_SUFFIX}" not in names
            elif name.endswith(METADATA_SUFFIX):
                stale = f"{name[: -len(METADATA_SUFFIX)]}{ARCHIVE_SUFFIX}" not in names
            else:
                stale = False
            if stale:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
        return removed

    def verify(self, backup_id: str) -> bool:
        """Check an archive against the checksum the controller reported.

        Args:
            backup_id: the backup's id.

        Returns:
            True if base64(SHA-1) of the archive equals the metadata's ``checksum``; False if
            it differs or no checksum is known.

        Raises:
            UnknownBackupError: if there is no complete archive with that id.
        """
        entry = self.get(backup_id)
        if entry is None:
            raise UnknownBackupError(f"no archive of backup {backup_id} in {self.root}")
        expected = entry.metadata.get("checksum")
        if not isinstance(expected, str) or not expected:
            return False
        return checksum(entry.archive) == expected

    def free_bytes(self) -> int:
        """Return the space available to an unprivileged writer on the storage, in bytes."""
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    @staticmethod
    def _stem(backup_id: str) -> str:
        validate_id(backup_id)
        stem = backup_id.removesuffix(ARCHIVE_SUFFIX)
        if not stem:
            raise InvalidBackupId(f"backup id {backup_id!r} is not valid: it has no name")
        return stem

    def _files(self, *, include_hidden: bool = False) -> list[Path]:
        paths = []
        with os.scandir(self.root) as it:
            for item in it:
                if item.name.startswith(".") and not include_hidden:
                    continue
                if item.is_file(follow_symlinks=False):
                    paths.append(Path(item.path))
        return paths

    def _load(self, path: Path) -> Entry | None:
        """Read one metadata file; None unless it describes a complete, consistent entry."""
        try:
            record = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        backup_id = record.get("id")
        metadata = record.get("metadata")
        stored_at = parse_time(record.get("stored-at"))
        local = [record.get(k) for k in ("application", "trigger", "source")]
        if (
            not isinstance(backup_id, str)
            or not isinstance(metadata, dict)
            or stored_at is None
            or not all(isinstance(v, str) for v in local)
        ):
            return None
        try:
            if self.metadata_path(backup_id) != path:
                return None
            archive = self.archive_path(backup_id)
        except InvalidBackupId:
            return None
        try:
            st = archive.stat()
        except OSError:
            return None
        application, trigger, source = (str(v) for v in local)
        return Entry(
            id=backup_id,
            archive=archive,
            metadata={k: v for k, v in metadata.items() if k not in _SECRET_KEYS},
            size=st.st_size,
            started=parse_time(metadata.get("started")),
            stored_at=stored_at,
            application=application,
            trigger=trigger,
            source=source,
        )
