# Copyright 2025 The juju-backups charm authors
# See LICENSE file for licensing details.

"""Ask a juju-backups charm for Juju controller backups over a relation, and learn the result.

The `juju_backups` interface lets any application ask the juju-backups charm for a fresh
backup of the Juju controller, and learn how that went: an upgrade orchestrator takes a backup
before it starts, a reporting charm shows when the last good backup was taken. A relation can
only *ask for* a backup: it can never restore or remove one, and no credential, CA material or
file path ever enters the relation data.

Every relation data value is JSON, as `ops.Relation.save` writes and `ops.Relation.load` reads.
The requirer's leader writes one request at a time in its application data; the provider's
leader answers in its own application data for that relation. The full interface (every key,
limits and the lifecycle of a request) is in `docs/interface-juju_backups.md` of the
juju-backups charm's repository.

This library needs `pydantic` 2 and `ops` 2.17 or later. The models of the relation data
(`BackupRequestData`, `ProviderAppData`) work with `Relation.load` and `Relation.save` too.

## Requirer: ask for a backup

```yaml
# charmcraft.yaml
requires:
  backups:
    interface: juju_backups
    limit: 1
```

```python
import ops
from charms.juju_backups.v0.backups import (
    BackupCompletedEvent,
    BackupFailedEvent,
    BackupsRequirer,
)


class UpgraderCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.backups = BackupsRequirer(self, relation_name="backups")
        framework.observe(self.on.upgrade_action, self._on_upgrade_action)
        framework.observe(self.backups.on.backup_completed, self._on_backup_completed)
        framework.observe(self.backups.on.backup_failed, self._on_backup_failed)

    def _on_upgrade_action(self, event: ops.ActionEvent):
        # Leader only; raises NoRelationError when nothing provides backups.
        request_id = self.backups.request_backup(notes="before the upgrade", reason="upgrade")
        event.set_results({"request-id": request_id})

    def _on_backup_completed(self, event: BackupCompletedEvent):
        logger.info("backup %s finished at %s", event.backup_id, event.finished_at)
        self._start_upgrade()

    def _on_backup_failed(self, event: BackupFailedEvent):
        logger.error("no backup, no upgrade: %s", event.error)
```

`backup_completed` and `backup_failed` are emitted on the requirer's leader, once per request,
when the provider's answer for this application's current request arrives.
`self.backups.last_backup` (readable on every unit) is the provider's last successful backup.

## Provider: run the backups (the juju-backups charm)

```python
from charms.juju_backups.v0.backups import BackupRequestedEvent, BackupsProvider


class JujuBackupsCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.backups_relation = BackupsProvider(self, last_backup=self._last_backup_summary)
        framework.observe(self.backups_relation.on.backup_requested, self._on_backup_requested)

    def _on_backup_requested(self, event: BackupRequestedEvent):
        self._serve_backup_requests()

    def _serve_backup_requests(self):
        # The queue lives in the relation data: call this again whenever the charm becomes
        # able to run backups (credentials arrived, update-status, after a leader change).
        for request in self.backups_relation.pending_requests():  # in order of arrival
            # A `running` one was started and never answered (its leader went away):
            # running it again is right, unless this unit's lock says it still runs.
            if not self.backups_relation.mark_running(request):
                continue  # withdrawn, answered already, or the relation is gone
            try:
                # The backup's notes template names request.app_name as its {trigger}.
                entry = self.service.create(self._notes_for(request), trigger="relation")
            except ServiceError as e:
                self.backups_relation.fail(request, str(e))
                continue
            self.backups_relation.complete(
                request, entry.id, started_at=entry.started, size=entry.size
            )
```

`complete()` also publishes the new backup as every relation's `last-backup`; after a
scheduled or manual backup the charm calls `publish_last_backup(LastBackup(...))` itself.
Malformed requests are answered `failed` by the library (the error names the bad key), and a
request id answered before is answered again from the earlier result: neither reaches the
charm. Only the leader acts; a new leader picks the queue up from the relation data.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, TypeVar

import ops
import pydantic
from pydantic_core import PydanticCustomError

# The unique Charmhub library identifier, never change it
LIBID = "9626aa44e4684bf18b037864a2d3a6f0"

# Increment this major API version when introducing breaking changes
LIBAPI = 0

# Increment this PATCH version before using `charmcraft publish-lib` or reset
# to 0 if you are raising the major API version
LIBPATCH = 1

PYDEPS = ["pydantic>=2"]

logger = logging.getLogger(__name__)

DEFAULT_RELATION_NAME = "backups"

MAX_REQUEST_ID_LENGTH = 64
MAX_TEXT_LENGTH = 200
MAX_ERROR_LENGTH = 500
MAX_BACKUP_ID_LENGTH = 200
# Results kept per relation so that a repeated request id is answered, not run again.
HISTORY_LENGTH = 8
# A raw relation value longer than this is refused before it is parsed: no field of the
# interface needs more, and a huge or deeply nested JSON document must not reach json.loads.
# A request's values are short; an answer's `recent` holds up to HISTORY_LENGTH results.
MAX_REQUEST_VALUE_LENGTH = 4096
MAX_ANSWER_VALUE_LENGTH = 65536

Status = Literal["pending", "running", "completed", "failed"]
_QUEUED: tuple[Status, ...] = ("pending", "running")
_FINAL: tuple[Status, ...] = ("completed", "failed")

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_REQUEST_KEYS = frozenset({"request-id", "notes", "reason", "requested-at"})


class BackupsError(Exception):
    """Base class of the errors this library raises."""


class NotLeaderError(BackupsError):
    """Only the leader unit writes application data: this unit is not the leader."""


class NoRelationError(BackupsError):
    """No relation on the endpoint to ask for a backup over."""


class InvalidRequestError(BackupsError, ValueError):
    """A request this library refuses to write (the message says which field and why)."""


# -- typed relation data -------------------------------------------------------------------


class _Unreadable:
    """A raw relation value that could not be decoded, and why (kept for the error message)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _decode(raw: str, limit: int = MAX_REQUEST_VALUE_LENGTH) -> Any:
    """Decode one relation value; never raises, so that the model can name the bad key."""
    if len(raw) > limit:
        return _Unreadable(f"value is longer than {limit} characters")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _Unreadable("value is not JSON (every value of this interface is JSON-encoded)")


def _check_request_id(value: str) -> str:
    if len(value) > MAX_REQUEST_ID_LENGTH or not _REQUEST_ID.fullmatch(value):
        raise PydanticCustomError(
            "request_id",
            "must be 1 to {max} characters from A-Z a-z 0-9 . _ - starting with a letter or digit",
            {"max": MAX_REQUEST_ID_LENGTH},
        )
    return value


def _check_backup_id(value: str) -> str:
    if len(value) > MAX_BACKUP_ID_LENGTH or not _REQUEST_ID.fullmatch(value):
        raise PydanticCustomError(
            "backup_id",
            "must be 1 to {max} characters from A-Z a-z 0-9 . _ - starting with a letter or digit",
            {"max": MAX_BACKUP_ID_LENGTH},
        )
    return value


def _printable_text(limit: int) -> Callable[[str], str]:
    # Checked here rather than with Field(max_length=...): pydantic 2.0 misapplies that
    # constraint beside an AfterValidator.
    def check(value: str) -> str:
        if len(value) > limit:
            raise PydanticCustomError(
                "too_long", "must be at most {max} characters", {"max": limit}
            )
        if not value.isprintable():
            raise PydanticCustomError("printable", "must not contain control characters")
        return value

    return check


def _to_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = _parse_rfc3339(value)
    if not isinstance(value, datetime):
        raise PydanticCustomError("timestamp", "must be an RFC 3339 date-time string")
    if value.utcoffset() is None:
        raise PydanticCustomError("timestamp", "must include a time zone offset")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: not a ValueError, would escape
        raise PydanticCustomError("timestamp", "is out of range") from None


def _parse_rfc3339(text: str) -> datetime:
    # datetime.fromisoformat of Python 3.10 takes neither "Z" nor other than 3 or 6 digits of
    # fractions, so the RFC 3339 form is normalised first.
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise PydanticCustomError("timestamp", "must be an RFC 3339 date-time string")
    date, time, fraction, offset = match.groups()
    micro = f".{fraction[:6].ljust(6, '0')}" if fraction else ""
    zone = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{time}{micro}{zone}")
    except ValueError:
        raise PydanticCustomError("timestamp", "is not a valid date and time") from None


def _format_rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


RequestId = Annotated[str, pydantic.AfterValidator(_check_request_id)]
BackupId = Annotated[str, pydantic.AfterValidator(_check_backup_id)]
Text = Annotated[str, pydantic.AfterValidator(_printable_text(MAX_TEXT_LENGTH))]
ErrorText = Annotated[str, pydantic.AfterValidator(_printable_text(MAX_ERROR_LENGTH))]
Timestamp = Annotated[
    datetime,
    pydantic.BeforeValidator(_to_utc),
    pydantic.PlainSerializer(_format_rfc3339, return_type=str),
]
Size = Annotated[int, pydantic.Field(ge=0)]


class _Model(pydantic.BaseModel):
    """Relation data: strict JSON types, kebab-case keys, unknown keys ignored, empties omitted."""

    model_config = pydantic.ConfigDict(
        alias_generator=lambda name: name.replace("_", "-"),
        strict=True,
        frozen=True,
        populate_by_name=True,
        extra="ignore",
    )

    @pydantic.field_validator("*", mode="before")
    @classmethod
    def _readable(cls, value: Any) -> Any:
        if isinstance(value, _Unreadable):
            raise PydanticCustomError("unreadable", "{reason}", {"reason": value.reason})
        return value

    @pydantic.model_serializer(mode="wrap")
    def _omit_empty(self, handler: pydantic.SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Unset fields are left out, so that they are absent from the databag (see _dump)
        # instead of being written as "null".
        return {k: v for k, v in handler(self).items() if v not in (None, "", [])}


_M = TypeVar("_M", bound=_Model)


def _load(model: type[_M], databag: Mapping[str, str], limit: int) -> _M:
    """Read a databag into `model` the way `Relation.load` does: JSON per key, known keys only.

    Raises:
        pydantic.ValidationError: naming every bad key (undecodable values included).
    """
    keys = _keys(model)
    return model.model_validate({k: _decode(v, limit) for k, v in databag.items() if k in keys})


def _dump(data: pydantic.BaseModel) -> dict[str, str]:
    """The databag update for `data`, as `Relation.save` of ops 3.6+ makes it.

    Done here so that older ops work too: every value JSON, and the keys of unset fields
    erased (an empty value deletes a key) instead of written as "null".
    """
    values = data.model_dump(mode="json", by_alias=True)
    return {k: json.dumps(values[k]) if k in values else "" for k in _keys(type(data))}


def _write(databag: ops.RelationDataContent, data: pydantic.BaseModel) -> None:
    # Erasing keys that are not there would only add noise to the hook's relation-set.
    databag.update({k: v for k, v in _dump(data).items() if v or k in databag})


def _keys(model: type[pydantic.BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


class BackupRequestData(_Model):
    """The requirer's application data: one request for a backup.

    Attributes:
        request_id: chosen by the requirer; writing a new one asks for a new backup.
        notes: stored with the backup (the provider may add its own notes around them).
        reason: why the backup is wanted, for the provider's log and the backup's notes.
        requested_at: when the requirer asked (informative only; the provider's
            `received-at` orders the queue).
    """

    request_id: RequestId
    notes: Text = ""
    reason: Text = ""
    requested_at: Timestamp | None = None


class LastBackup(_Model):
    """A summary of the provider's last successful backup, seen by every related application.

    Attributes:
        id: the Juju backup id.
        finished_at: when the backup finished.
        size: the archive's size in bytes.
    """

    id: BackupId
    finished_at: Timestamp | None = None
    size: Size | None = None


class BackupResult(_Model):
    """The provider's answer to one request.

    Attributes:
        request_id: the request answered; None only when the requester's id itself was
            malformed (then `error` says so).
        status: `pending` (queued), `running`, `completed` or `failed`.
        received_at: when the provider took the request in (the queue's order).
        started_at: when the backup started.
        finished_at: when the backup finished or failed.
        backup_id: the Juju backup id (completed only).
        size: the archive's size in bytes (completed only).
        error: what went wrong (failed only).
    """

    request_id: RequestId | None = None
    status: Status
    received_at: Timestamp | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    backup_id: BackupId | None = None
    size: Size | None = None
    error: ErrorText | None = None


class ProviderAppData(_Model):
    """The provider's application data for one relation.

    The current answer's fields are at the top level (see `BackupResult`); `recent` holds the
    results of the last few requests of this relation, newest first; `last_backup` is the
    provider's last successful backup, whoever asked for it.
    """

    request_id: RequestId | None = None
    status: Status | None = None
    received_at: Timestamp | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    backup_id: BackupId | None = None
    size: Size | None = None
    error: ErrorText | None = None
    # Not limited to HISTORY_LENGTH on reading: a later provider may keep more.
    recent: list[BackupResult] = []
    last_backup: LastBackup | None = None

    def current(self) -> BackupResult | None:
        """The current answer, or None when the provider has answered nothing yet."""
        if self.status is None:
            return None
        return BackupResult(
            request_id=self.request_id,
            status=self.status,
            received_at=self.received_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            backup_id=self.backup_id,
            size=self.size,
            error=self.error,
        )

    def find(self, request_id: str | None) -> BackupResult | None:
        """The answer to `request_id`: the current one, else one kept in `recent`."""
        if request_id is None:
            return None
        current = self.current()
        if current is not None and current.request_id == request_id:
            return current
        return next((r for r in self.recent if r.request_id == request_id), None)

    def answering(self, result: BackupResult) -> ProviderAppData:
        """A copy whose current answer is `result`."""
        return self.model_copy(
            update={
                "request_id": result.request_id,
                "status": result.status,
                "received_at": result.received_at,
                "started_at": result.started_at,
                "finished_at": result.finished_at,
                "backup_id": result.backup_id,
                "size": result.size,
                "error": result.error,
            }
        )

    def remembering(self, result: BackupResult) -> ProviderAppData:
        """A copy with `result` first in `recent` (replacing an older result for its id)."""
        older = [r for r in self.recent if r.request_id != result.request_id]
        return self.model_copy(update={"recent": [result, *older][:HISTORY_LENGTH]})


def _describe(error: pydantic.ValidationError, prefix: str = "invalid request: ") -> str:
    """Name every bad key and what is wrong with it, never echoing the value."""
    parts: list[str] = []
    for detail in error.errors(include_url=False):
        # Keys as the relation data spells them, also when the model was built by field name.
        key = ".".join(str(p).replace("_", "-") for p in detail["loc"]) or "data"
        msg = "missing" if detail["type"] == "missing" else detail["msg"]
        parts.append(f"{key}: {msg}")
    return _clip(prefix + "; ".join(parts))


def _clip(message: str, limit: int = MAX_ERROR_LENGTH) -> str:
    """Make `message` fit `ErrorText`: printable, one line, at most `limit` characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_request_id() -> str:
    """A fresh request id: sortable by time, unique enough to never repeat by chance."""
    return f"{_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


# -- provider side --------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupRequest:
    """A request the provider's charm has to serve (see `BackupsProvider.pending_requests`).

    Attributes:
        relation_id: the relation it came over.
        app_name: the requesting application (what the backup's `{trigger}` names).
        request_id: the requirer's id for it.
        notes: the requirer's notes ("" when none).
        reason: the requirer's reason ("" when none).
        requested_at: when the requirer says it asked, if it said.
        received_at: when the provider took it in; None while it waits behind a running
            request of the same relation.
        status: `pending`, or `running` when a previous leader started it and did not finish.
    """

    relation_id: int
    app_name: str
    request_id: str
    notes: str
    reason: str
    requested_at: datetime | None
    received_at: datetime | None
    status: Literal["pending", "running"]


class BackupRequestedEvent(ops.EventBase):
    """A related application asked for a backup: serve `BackupsProvider.pending_requests()`.

    Attributes:
        relation_id: the relation the request came over.
        app_name: the requesting application.
        request_id: the requirer's id for the request.
        notes: the requirer's notes.
        reason: the requirer's reason.
    """

    def __init__(
        self,
        handle: ops.Handle,
        relation_id: int,
        app_name: str,
        request_id: str,
        notes: str,
        reason: str,
    ) -> None:
        super().__init__(handle)
        self.relation_id = relation_id
        self.app_name = app_name
        self.request_id = request_id
        self.notes = notes
        self.reason = reason

    def snapshot(self) -> dict[str, Any]:
        return {
            "relation_id": self.relation_id,
            "app_name": self.app_name,
            "request_id": self.request_id,
            "notes": self.notes,
            "reason": self.reason,
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.relation_id = snapshot["relation_id"]
        self.app_name = snapshot["app_name"]
        self.request_id = snapshot["request_id"]
        self.notes = snapshot["notes"]
        self.reason = snapshot["reason"]


class BackupsProviderEvents(ops.ObjectEvents):
    """Events of `BackupsProvider`."""

    backup_requested = ops.EventSource(BackupRequestedEvent)


@dataclass(frozen=True)
class _Read:
    """The requirer's request as read: valid (`data`) or not (`error`)."""

    request_id: str | None  # a well-formed id, even when another field is bad
    data: BackupRequestData | None
    error: str | None


class BackupsProvider(ops.Object):
    """The provider side of `juju_backups`: takes requests in, answers them.

    The queue of requests lives in the relation data, so any leader can serve it: a request is
    queued while the requirer's `request-id` has not been answered yet, or the answer to it
    says `pending` or `running`. Only the leader reads or writes; on other units every method
    does nothing (and `pending_requests` is empty).

    Args:
        charm: the charm that provides the relation.
        relation_name: the endpoint's name in charmcraft.yaml.
        last_backup: called to fill `last-backup` in a relation that has none yet (a new
            relation, or after a leader change); without it the library copies the summary
            from another relation when there is one.
    """

    on = BackupsProviderEvents()

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = DEFAULT_RELATION_NAME,
        *,
        last_backup: Callable[[], LastBackup | None] | None = None,
    ) -> None:
        super().__init__(charm, relation_name)
        self._relation_name = relation_name
        self._last_backup_source = last_backup
        events = charm.on[relation_name]
        self.framework.observe(events.relation_joined, self._on_relation_joined)
        self.framework.observe(events.relation_changed, self._on_relation_changed)
        self.framework.observe(charm.on.leader_elected, self._on_leader_elected)

    def _on_relation_joined(self, event: ops.RelationJoinedEvent) -> None:
        if not self.model.unit.is_leader():
            return
        self._fill_last_backup(event.relation)
        self._take_in([event.relation], announce_queued=False)

    def _on_relation_changed(self, event: ops.RelationChangedEvent) -> None:
        if not self.model.unit.is_leader():
            return
        self._take_in([event.relation], announce_queued=False)

    def _on_leader_elected(self, _: ops.LeaderElectedEvent) -> None:
        if not self.model.unit.is_leader():
            return
        relations = self._relations()
        for relation in relations:
            self._fill_last_backup(relation)
        # The previous leader may have left requests pending or running: announce them too.
        self._take_in(relations, announce_queued=True)

    # -- the charm's API

    def pending_requests(self) -> list[BackupRequest]:
        """The requests owed an answer, in order of arrival (empty on non-leader units).

        A `running` request is one whose backup was started and not answered: it may still run
        in another process of this unit (the charm's lock knows), or a previous leader died
        while running it; `mark_running` returns False for one its requirer no longer wants.
        A request not taken in yet (it waits behind a running request of the same relation)
        has no `received_at` and comes last.
        """
        if not self.model.unit.is_leader():
            return []
        queue = [request for r in self._relations() for request in self._queued(r)]
        return sorted(queue, key=_arrival)

    def mark_running(self, request: BackupRequest) -> bool:
        """Answer `running` for `request`, just before its backup starts.

        Returns:
            False, writing nothing, when the request should not run: the relation is gone,
            the requirer replaced or withdrew the request, it was answered already, or this
            unit is not the leader.
        """
        relation = self._writable(request.relation_id)
        if relation is None:
            return False
        read = self._read_request(relation)
        if read is None or read.data is None or read.request_id != request.request_id:
            logger.info(
                "request %s of %s was withdrawn or replaced; not running it",
                request.request_id,
                request.app_name,
            )
            return False
        own = self._read_own(relation)
        earlier = own.find(request.request_id)
        if earlier is not None and earlier.status in _FINAL:
            return False  # answered already: a stale request object
        received = earlier.received_at if earlier else request.received_at
        running = BackupResult(
            request_id=request.request_id,
            status="running",
            received_at=received or _now(),
            started_at=_now(),
        )
        self._save(relation, own.answering(running))
        return True

    def complete(
        self,
        request: BackupRequest,
        backup_id: str,
        *,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        size: int | None = None,
    ) -> bool:
        """Answer `completed` for `request`, and publish the backup as `last-backup`.

        Args:
            request: the request served.
            backup_id: the Juju backup id.
            started_at: when the backup started (default: when `mark_running` was called).
            finished_at: when it finished (default: now).
            size: the archive's size in bytes.

        Returns:
            False when the request's relation is gone (the backup is still published as
            `last-backup` to the other relations), or this unit is not the leader (nothing
            is written).

        Raises:
            ValueError: a value the interface cannot carry (a naive datetime, a bad id).
        """
        finished_at = finished_at or _now()
        summary = LastBackup(id=backup_id, finished_at=finished_at, size=size)
        relation = self._writable(request.relation_id)
        if relation is not None:
            own = self._read_own(relation)
            earlier = own.find(request.request_id)
            result = BackupResult(
                request_id=request.request_id,
                status="completed",
                received_at=earlier.received_at if earlier else request.received_at,
                started_at=started_at or (earlier.started_at if earlier else None),
                finished_at=finished_at,
                backup_id=backup_id,
                size=size,
            )
            self._finish(relation, own, result)
        self.publish_last_backup(summary)
        return relation is not None

    def fail(self, request: BackupRequest, message: str) -> bool:
        """Answer `failed` for `request`; `message` (never a secret) says why.

        The message is cut to one printable line of at most 500 characters.

        Returns:
            False, writing nothing, when the relation is gone or this unit is not the leader.
        """
        relation = self._writable(request.relation_id)
        if relation is None:
            return False
        own = self._read_own(relation)
        earlier = own.find(request.request_id)
        result = BackupResult(
            request_id=request.request_id,
            status="failed",
            received_at=earlier.received_at if earlier else request.received_at,
            started_at=earlier.started_at if earlier else None,
            finished_at=_now(),
            error=_clip(message) or "failed",
        )
        self._finish(relation, own, result)
        return True

    def publish_last_backup(self, summary: LastBackup | None) -> None:
        """Show `summary` as the last successful backup to every related application.

        Call it after every successful backup that `complete` did not answer (scheduled,
        manual), and with an older backup or None when the last one was removed.
        Does nothing on non-leader units.
        """
        if not self.model.unit.is_leader():
            return
        for relation in self._relations():
            own = self._read_own(relation)
            if own.last_backup != summary:
                self._save(relation, own.model_copy(update={"last_backup": summary}))

    # -- helpers

    def _relations(self) -> list[ops.Relation]:
        return [r for r in self.model.relations[self._relation_name] if r.app is not None]

    def _writable(self, relation_id: int) -> ops.Relation | None:
        """The relation to answer over, or None when it is gone or this unit cannot write."""
        if not self.model.unit.is_leader():
            logger.warning("not the leader any more: relation %d not answered", relation_id)
            return None
        relation = self.model.get_relation(self._relation_name, relation_id)
        if relation is None or not relation.active or relation.app is None:
            logger.info("relation %d is gone: its request is not answered", relation_id)
            return None
        return relation

    def _take_in(self, relations: list[ops.Relation], *, announce_queued: bool) -> None:
        """Answer what needs no backup (malformed, repeated) and announce the rest."""
        fresh = {(r.id, rid) for r in relations if (rid := self._register(r)) is not None}
        for request in self.pending_requests():
            if announce_queued or (request.relation_id, request.request_id) in fresh:
                self.on.backup_requested.emit(
                    relation_id=request.relation_id,
                    app_name=request.app_name,
                    request_id=request.request_id,
                    notes=request.notes,
                    reason=request.reason,
                )

    def _register(self, relation: ops.Relation) -> str | None:
        """Take the requirer's current request in; return its id when it is new and valid."""
        read = self._read_request(relation)
        if read is None:
            return None
        own = self._read_own(relation)
        request_id = read.request_id
        if request_id is not None and own.request_id == request_id:
            return None  # already answered, or already queued
        if own.status == "running":
            # The previous request of this relation is still being served: this one waits,
            # and is taken in when that one is answered.
            return request_id if read.data is not None and not own.find(request_id) else None
        earlier = own.find(request_id)
        if earlier is not None:
            logger.info("request %s was answered before: not run again", request_id)
            self._save(relation, own.answering(earlier))
            return None
        if read.error is not None:
            self._refuse(relation, own, request_id, read.error)
            return None
        # A request still pending (never started) is replaced by the requirer's new one.
        pending = BackupResult(request_id=request_id, status="pending", received_at=_now())
        self._save(relation, own.answering(pending))
        return request_id

    def _refuse(
        self, relation: ops.Relation, own: ProviderAppData, request_id: str | None, error: str
    ) -> None:
        app = relation.app.name if relation.app else "?"
        logger.warning("refusing a malformed backup request from %s: %s", app, error)
        if request_id is None and own.request_id is None and own.error == error:
            return  # this very refusal is already written
        refusal = BackupResult(
            request_id=request_id, status="failed", received_at=_now(), error=error
        )
        answer = own.answering(refusal)
        if request_id is not None:
            answer = answer.remembering(refusal)
        self._save(relation, answer)

    def _finish(self, relation: ops.Relation, own: ProviderAppData, result: BackupResult) -> None:
        answer = own.remembering(result)
        busy_with_another = own.status in _QUEUED and own.request_id != result.request_id
        if not busy_with_another:
            answer = answer.answering(result)
        self._save(relation, answer)
        # The requirer may have asked again while this one ran: take that request in now.
        self._register(relation)

    def _fill_last_backup(self, relation: ops.Relation) -> None:
        own = self._read_own(relation)
        if own.last_backup is not None:
            return
        if self._last_backup_source is not None:
            summary = self._last_backup_source()
        else:
            known = [
                o.last_backup
                for r in self._relations()
                if r.id != relation.id and (o := self._read_own(r)).last_backup is not None
            ]
            summary = max(known, key=_finished, default=None)
        if summary is not None:
            self._save(relation, own.model_copy(update={"last_backup": summary}))

    def _queued(self, relation: ops.Relation) -> list[BackupRequest]:
        """What this relation is owed: its running or pending request, then a new one."""
        app = relation.app
        if app is None:
            return []
        read = self._read_request(relation)
        data = read.data if read is not None else None
        own = self._read_own(relation)
        current = own.current()
        queued: list[BackupRequest] = []
        if current is not None and current.status in _QUEUED and current.request_id:
            if data is not None and data.request_id == current.request_id:
                queued.append(_request(relation.id, app.name, data, current))
            elif current.status == "running":
                # The requirer has moved on, but a backup for this one may still be running:
                # it is listed so that nothing else starts meanwhile (mark_running refuses it).
                queued.append(
                    BackupRequest(
                        relation_id=relation.id,
                        app_name=app.name,
                        request_id=current.request_id,
                        notes="",
                        reason="",
                        requested_at=None,
                        received_at=current.received_at,
                        status="running",
                    )
                )
        if data is not None and own.find(data.request_id) is None:
            queued.append(_request(relation.id, app.name, data, None))
        return queued

    def _read_request(self, relation: ops.Relation) -> _Read | None:
        """The requirer's request, or None when it asks for nothing."""
        if relation.app is None:
            return None
        raw = relation.data[relation.app]
        if not _REQUEST_KEYS.intersection(raw.keys()):
            return None
        try:
            data = _load(BackupRequestData, raw, MAX_REQUEST_VALUE_LENGTH)
        except pydantic.ValidationError as e:
            return _Read(_valid_request_id(raw.get("request-id")), None, _describe(e))
        return _Read(data.request_id, data, None)

    def _read_own(self, relation: ops.Relation) -> ProviderAppData:
        try:
            own = relation.data[self.model.app]
            return _load(ProviderAppData, own, MAX_ANSWER_VALUE_LENGTH)
        except pydantic.ValidationError as e:
            # Not written by this library version: start afresh rather than fail every hook.
            logger.warning(
                "ignoring unreadable answer data in relation %d: %s", relation.id, _describe(e, "")
            )
            return ProviderAppData()

    def _save(self, relation: ops.Relation, data: ProviderAppData) -> None:
        _write(relation.data[self.model.app], data)


def _valid_request_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = _decode(raw)
    if not isinstance(value, str):
        return None
    try:
        return _check_request_id(value)
    except PydanticCustomError:
        return None


def _request(
    relation_id: int, app_name: str, data: BackupRequestData, answer: BackupResult | None
) -> BackupRequest:
    return BackupRequest(
        relation_id=relation_id,
        app_name=app_name,
        request_id=data.request_id,
        notes=data.notes,
        reason=data.reason,
        requested_at=data.requested_at,
        received_at=answer.received_at if answer else None,
        status="running" if answer and answer.status == "running" else "pending",
    )


def _arrival(request: BackupRequest) -> tuple[bool, datetime, int]:
    # Requests not taken in yet (waiting behind a running one) come after those that were.
    received = request.received_at or datetime.max.replace(tzinfo=timezone.utc)
    return (request.received_at is None, received, request.relation_id)


def _finished(summary: LastBackup) -> datetime:
    return summary.finished_at or datetime.min.replace(tzinfo=timezone.utc)


# -- requirer side --------------------------------------------------------------------------


class _BackupAnswerEvent(ops.EventBase):
    """The provider answered this application's current request."""

    def __init__(
        self, handle: ops.Handle, relation_id: int, app_name: str, result: BackupResult
    ) -> None:
        super().__init__(handle)
        self.relation_id = relation_id
        self.app_name = app_name
        self.result = result

    @property
    def request_id(self) -> str:
        """The id of the request answered."""
        return self.result.request_id or ""

    @property
    def started_at(self) -> datetime | None:
        """When the backup started."""
        return self.result.started_at

    @property
    def finished_at(self) -> datetime | None:
        """When the backup finished (or failed)."""
        return self.result.finished_at

    def snapshot(self) -> dict[str, Any]:
        return {
            "relation_id": self.relation_id,
            "app_name": self.app_name,
            "result": self.result.model_dump(mode="json", by_alias=True),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.relation_id = snapshot["relation_id"]
        self.app_name = snapshot["app_name"]
        self.result = BackupResult.model_validate(snapshot["result"])


class BackupCompletedEvent(_BackupAnswerEvent):
    """The backup asked for is done: `backup_id`, `started_at`, `finished_at`, `size`."""

    @property
    def backup_id(self) -> str:
        """The Juju backup id."""
        return self.result.backup_id or ""

    @property
    def size(self) -> int | None:
        """The archive's size in bytes."""
        return self.result.size


class BackupFailedEvent(_BackupAnswerEvent):
    """The backup asked for failed, or the request was refused: `error` says why."""

    @property
    def error(self) -> str:
        """What went wrong."""
        return self.result.error or ""


class BackupsRequirerEvents(ops.ObjectEvents):
    """Events of `BackupsRequirer`."""

    backup_completed = ops.EventSource(BackupCompletedEvent)
    backup_failed = ops.EventSource(BackupFailedEvent)


class BackupsRequirer(ops.Object):
    """The requirer side of `juju_backups`: asks for backups, learns how they went.

    Args:
        charm: the charm that requires the relation.
        relation_name: the endpoint's name in charmcraft.yaml.
    """

    on = BackupsRequirerEvents()
    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase, relation_name: str = DEFAULT_RELATION_NAME) -> None:
        super().__init__(charm, relation_name)
        self._relation_name = relation_name
        # relation id -> "<request-id> <status>" of the answer last announced, so that an
        # answer is announced once although relation-changed fires for every provider write.
        self._stored.set_default(announced={})
        events = charm.on[relation_name]
        self.framework.observe(events.relation_changed, self._on_relation_changed)
        self.framework.observe(events.relation_broken, self._on_relation_broken)
        self.framework.observe(charm.on.leader_elected, self._on_leader_elected)

    def _on_relation_changed(self, event: ops.RelationChangedEvent) -> None:
        self._announce(event.relation)

    def _on_relation_broken(self, event: ops.RelationBrokenEvent) -> None:
        self._stored.announced.pop(str(event.relation.id), None)

    def _on_leader_elected(self, _: ops.LeaderElectedEvent) -> None:
        for relation in self.model.relations[self._relation_name]:
            self._announce(relation)

    def request_backup(
        self,
        notes: str = "",
        reason: str = "",
        *,
        request_id: str | None = None,
        relation: ops.Relation | None = None,
    ) -> str:
        """Ask for a backup; the answer arrives as `backup_completed` or `backup_failed`.

        Args:
            notes: stored with the backup (at most 200 printable characters).
            reason: why it is wanted (at most 200 printable characters).
            request_id: an id of your own (1-64 of A-Z a-z 0-9 . _ -); asking again with an
                id that was answered before gets that answer back instead of a new backup.
                By default a new id is made.
            relation: the relation to ask over; by default every relation of the endpoint
                (each provider answers for itself).

        Returns:
            The request id.

        Raises:
            NotLeaderError: this unit is not the leader.
            NoRelationError: there is no relation to ask over.
            InvalidRequestError: notes, reason or request_id break the interface's limits.
        """
        if not self.model.unit.is_leader():
            raise NotLeaderError("only the leader unit can ask for a backup")
        if relation is not None:
            relations = [relation] if relation.active else []
        else:
            relations = list(self.model.relations[self._relation_name])
        if not relations:
            raise NoRelationError(
                f"no {self._relation_name!r} relation to ask for a backup over: "
                "relate this application to juju-backups first"
            )
        try:
            data = BackupRequestData(
                request_id=request_id or new_request_id(),
                notes=notes,
                reason=reason,
                requested_at=_now(),
            )
        except pydantic.ValidationError as e:
            raise InvalidRequestError(_describe(e)) from None
        for target in relations:
            _write(target.data[self.model.app], data)
        return data.request_id

    def result(
        self, request_id: str | None = None, *, relation: ops.Relation | None = None
    ) -> BackupResult | None:
        """The provider's answer to a request (by default this application's current one).

        Args:
            request_id: the request; None for the current one, which only the leader knows.
            relation: the relation; by default the only one of the endpoint.

        Returns:
            The answer, or None when there is none (yet) or no relation.

        Raises:
            NotLeaderError: request_id is None and this unit is not the leader.
        """
        if request_id is None:
            request_id = self.current_request_id(relation)
            if request_id is None:
                return None
        relation = relation or self.model.get_relation(self._relation_name)
        if relation is None:
            return None
        answer = self._provider_data(relation)
        return answer.find(request_id) if answer is not None else None

    def current_request_id(self, relation: ops.Relation | None = None) -> str | None:
        """This application's current request id (None when it asked for nothing).

        Args:
            relation: the relation; by default the only one of the endpoint.

        Raises:
            NotLeaderError: this unit is not the leader (only the leader can read it).
        """
        if not self.model.unit.is_leader():
            raise NotLeaderError("only the leader unit knows the current request")
        relation = relation or self.model.get_relation(self._relation_name)
        if relation is None:
            return None
        mine = self._current_request(relation)
        return mine.request_id if mine is not None else None

    @property
    def last_backup(self) -> LastBackup | None:
        """The newest `last-backup` the related providers show (None when there is none)."""
        known = [
            answer.last_backup
            for relation in self.model.relations[self._relation_name]
            if (answer := self._provider_data(relation)) is not None and answer.last_backup
        ]
        return max(known, key=_finished, default=None)

    # -- helpers

    def _announce(self, relation: ops.Relation) -> None:
        if not self.model.unit.is_leader() or relation.app is None:
            return
        mine = self._current_request(relation)
        answer = self._provider_data(relation)
        if mine is None or answer is None:
            return
        result = answer.find(mine.request_id)
        if result is None or result.status not in _FINAL:
            return
        token = f"{result.request_id} {result.status}"
        if self._stored.announced.get(str(relation.id)) == token:
            return
        self._stored.announced[str(relation.id)] = token
        event = self.on.backup_completed if result.status == "completed" else self.on.backup_failed
        event.emit(relation_id=relation.id, app_name=relation.app.name, result=result)

    def _current_request(self, relation: ops.Relation) -> BackupRequestData | None:
        if "request-id" not in relation.data[self.model.app]:
            return None
        try:
            mine = relation.data[self.model.app]
            return _load(BackupRequestData, mine, MAX_REQUEST_VALUE_LENGTH)
        except pydantic.ValidationError as e:
            logger.warning(
                "ignoring an unreadable request in relation %d: %s", relation.id, _describe(e, "")
            )
            return None

    def _provider_data(self, relation: ops.Relation) -> ProviderAppData | None:
        if relation.app is None or not relation.data[relation.app]:
            return None
        try:
            theirs = relation.data[relation.app]
            return _load(ProviderAppData, theirs, MAX_ANSWER_VALUE_LENGTH)
        except pydantic.ValidationError as e:
            logger.warning(
                "ignoring an unreadable answer in relation %d: %s", relation.id, _describe(e, "")
            )
            return None
