"""Backups wherever their copies live: the unit's archives merged with the controller's store.

Juju 2.0 to 2.9.21 controllers keep backups of their own (Backups.List, Info, Remove); later
ones keep nothing, and the unit's archives are the only catalogue. One backup has one id in
both places (the controller's id is the one the unit stores the archive under), so the two
lists merge by id. Plain data and pure functions only: no I/O, no ops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from catalogue import Entry, parse_time
from juju_api import BackupMetadata

UNIT = "unit"
CONTROLLER = "controller"
_ID_SEPARATORS = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class BackupRow:
    """One backup, with where its copies are.

    Attributes:
        id: the backup id (the same on the unit and on the controller).
        started: when the controller started it, if known.
        size: the archive's size in bytes.
        notes: the backup's notes.
        checksum: base64 SHA-1 of the archive as the controller reported it.
        version: the Juju version of the controller that made it.
        archive: the archive's path on the unit, None when the unit has no copy.
        on_controller: the controller keeps a copy in its own store.
    """

    id: str
    started: datetime | None
    size: int
    notes: str
    checksum: str
    version: str
    archive: Path | None
    on_controller: bool

    @property
    def locations(self) -> tuple[str, ...]:
        """Where copies live: ``("unit",)``, ``("controller",)`` or both."""
        return _locations(on_unit=self.archive is not None, on_controller=self.on_controller)


@dataclass(frozen=True)
class BackupListing:
    """What list-backups found.

    Attributes:
        rows: one per backup, newest first.
        controller: what the controller contributed, in a sentence (or why it was not asked).
    """

    rows: list[BackupRow]
    controller: str


@dataclass(frozen=True)
class BackupDetails:
    """Everything known about one backup.

    Attributes:
        id: the backup id.
        metadata: the controller's metadata (wire keys, never CA material); the controller's
            own answer when it has the backup, else what the unit stored.
        local: the unit's archive, None when the unit has no copy.
        expected_checksum: the checksum the controller reported for the archive.
        actual_checksum: the checksum of the archive on the unit now (None without a copy).
        on_controller: the controller keeps a copy.
        controller: what the controller said, in a sentence.
    """

    id: str
    metadata: dict[str, Any]
    local: Entry | None
    expected_checksum: str | None
    actual_checksum: str | None
    on_controller: bool
    controller: str

    @property
    def archive_intact(self) -> bool | None:
        """Whether the unit's archive matches its checksum; None without a local copy."""
        if self.local is None:
            return None
        return bool(self.expected_checksum) and self.actual_checksum == self.expected_checksum

    @property
    def locations(self) -> tuple[str, ...]:
        """Where copies live."""
        return _locations(on_unit=self.local is not None, on_controller=self.on_controller)


@dataclass(frozen=True)
class RemovalOutcome:
    """What happened to one id of a remove-backups request.

    Attributes:
        id: the id as the operator typed it.
        removed_from: where copies were removed (``unit``, ``controller``).
        error: why (part of) the removal failed; None when it fully succeeded.
    """

    id: str
    removed_from: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Removal:
    """What remove-backups did.

    Attributes:
        outcomes: one per distinct id requested, in the order given.
        controller: what the controller contributed, in a sentence.
    """

    outcomes: list[RemovalOutcome] = field(default_factory=list[RemovalOutcome])
    controller: str = ""

    @property
    def failed(self) -> list[RemovalOutcome]:
        """The outcomes with an error."""
        return [o for o in self.outcomes if o.error is not None]


def parse_ids(text: str) -> list[str]:
    """Split backup ids as an operator types them: commas and/or spaces, duplicates dropped.

    Args:
        text: e.g. ``"id1,id2 id3"``.

    Returns:
        The ids in the order given, each once.
    """
    ids: list[str] = []
    for item in _ID_SEPARATORS.split(text.strip()):
        if item and item not in ids:
            ids.append(item)
    return ids


def row_from_entry(entry: Entry, *, on_controller: bool = False) -> BackupRow:
    """The row of an archive on the unit.

    Args:
        entry: the catalogue entry.
        on_controller: the controller keeps a copy too.

    Returns:
        The row.
    """
    meta = entry.metadata
    return BackupRow(
        id=entry.id,
        started=entry.started,
        size=entry.size,
        notes=_text(meta.get("notes")),
        checksum=_text(meta.get("checksum")),
        version=_text(meta.get("version")),
        archive=entry.archive,
        on_controller=on_controller,
    )


def row_from_metadata(meta: BackupMetadata) -> BackupRow:
    """The row of a backup only the controller keeps.

    Args:
        meta: the controller's metadata.

    Returns:
        The row.
    """
    return BackupRow(
        id=meta.id,
        started=meta.started,
        size=meta.size,
        notes=meta.notes,
        checksum=meta.checksum,
        version=meta.version,
        archive=None,
        on_controller=True,
    )


def merge(local: Iterable[Entry], controller: Iterable[BackupMetadata]) -> list[BackupRow]:
    """Merge the unit's archives with the controller's stored backups, by id.

    Args:
        local: the unit's complete archives.
        controller: the backups the controller keeps (empty when it keeps none).

    Returns:
        One row per backup, newest first: by start time, else by when it was stored (on the
        unit, or on the controller); backups with neither come last.
    """
    remote = {meta.id: meta for meta in controller}
    when: dict[str, datetime | None] = {m.id: m.started or m.stored for m in remote.values()}
    when.update((e.id, e.when) for e in local)
    rows = [row_from_entry(e, on_controller=e.id in remote) for e in local]
    seen = {row.id for row in rows}
    rows += [row_from_metadata(meta) for meta_id, meta in remote.items() if meta_id not in seen]
    rows.sort(key=lambda r: (when[r.id] is not None, when[r.id] or datetime.min, r.id))
    rows.reverse()
    return rows


def clean_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata without CA material or values that mean "unknown".

    Args:
        metadata: wire-keyed metadata.

    Returns:
        A copy without ``ca-cert``/``ca-private-key`` and without None, "" or Go's zero time.
    """
    return {
        key: value
        for key, value in metadata.items()
        if key not in ("ca-cert", "ca-private-key")
        and value is not None
        and value != ""
        and not (key in ("stored", "started", "finished") and parse_time(value) is None)
    }


def _locations(*, on_unit: bool, on_controller: bool) -> tuple[str, ...]:
    where = (UNIT,) if on_unit else ()
    return (*where, CONTROLLER) if on_controller else where


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


__all__ = [
    "CONTROLLER",
    "UNIT",
    "BackupDetails",
    "BackupListing",
    "BackupRow",
    "Removal",
    "RemovalOutcome",
    "clean_metadata",
    "merge",
    "parse_ids",
    "row_from_entry",
    "row_from_metadata",
]
