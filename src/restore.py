"""Restoring a backup through the controller's API (Juju 2.0 to 2.9.21), across hooks.

The sequence is the one Juju's own 2.x client used. PrepareRestore puts the controller in
restore mode: a login made after it may only restore. The archive is uploaded unless the
controller already has it (compared by checksum). Restore makes the controller restore and
exit, which drops every connection: the drop is what success looks like. The controller
restarts and refuses logins for a while; once it is back, FinishRestore on a new connection
says whether the restore worked and leaves restore mode.

A restore easily outlives a hook: Juju may kill a hook that runs too long, the unit's
machine may reboot. So each step is written to a small state file on the archives storage
before it is taken, and the next hook knows where things stand. Interrupted before Restore
was sent, nothing was restored: the controller is taken out of restore mode (FinishRestore
turns a pending restore into a failed one, which lifts the restrictions) and the operator
is told. Interrupted after, the next hook waits for the controller and finishes the restore.

From Juju 2.9.22 on, controllers restore nothing through the API; the refusal says how to
restore with the standalone juju-restore tool, and where the archive is on the unit.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import lock
from catalogue import Catalogue, Entry, checksum, format_time, parse_time, write_atomically
from juju_api import (
    BackupMetadata,
    Backups,
    Connection,
    parse_version,
    upload_backup,
    with_retries,
)
from juju_api.errors import (
    APIError,
    CallTimeout,
    ConnectionFailed,
    DownloadError,
    JujuError,
    ProtocolError,
    RestoreInProgress,
    RetryableError,
    TLSVerificationFailed,
    Unauthorized,
    UnsupportedByController,
)
from service import (
    BackupService,
    ControllerAccess,
    ServiceError,
    UnavailableError,
    UnknownBackupError,
    human_size,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

STATE_FILE = ".juju-backups-restore.json"
# Seconds before the first reconnection attempt after Restore, doubled up to the maximum
# (the 2.x client retried every 10 s); module constants so that tests can shorten them.
RESTART_BACKOFF = 1.0
RESTART_BACKOFF_MAX = 10.0
LOOKUP_ATTEMPTS = 3
LOOKUP_BACKOFF = 2.0

# The steps, in order; each is recorded before it is taken.
PREPARING = "preparing"
PREPARED = "prepared"
UPLOADED = "uploaded"
RESTORING = "restoring"
_STEPS = (PREPARING, PREPARED, UPLOADED, RESTORING)
_INTERRUPTED = {
    PREPARING: "while putting the controller in restore mode",
    PREPARED: "after putting the controller in restore mode, before restoring",
    UPLOADED: "after uploading the archive, before restoring",
    RESTORING: "after asking the controller to restore",
}
_NOT_FINISHED = "did not finish successfully"


class RestoreUnsupportedError(ServiceError):
    """This controller cannot restore through its API (2.9.22 on), or cannot take the upload."""


class CorruptArchiveError(ServiceError):
    """The unit's archive no longer matches its checksum: it must not be restored."""


class RestoreRefusedError(ServiceError):
    """The controller refused a step; nothing was restored."""


class UploadRejectedError(RestoreRefusedError):
    """The controller refused the archive, or the upload broke off."""


class RestartTimeoutError(ServiceError):
    """The controller did not come back in time; the restore is finished by a later hook."""

    retryable = True


class RestoreFailedError(ServiceError):
    """The controller says the restore did not finish successfully."""

    blocked = True


class RestoreInterruptedError(ServiceError):
    """An earlier hook stopped before Restore was sent: nothing was restored."""

    blocked = True


class RestoreStateError(ServiceError):
    """The restore state file cannot be read."""

    blocked = True


@dataclasses.dataclass(frozen=True)
class RestoreState:
    """Where a restore stands, as kept on the archives storage between hooks.

    Attributes:
        backup_id: the backup the operator asked to restore.
        controller_id: the id the controller restores ("" until an upload gives it one).
        step: the last step begun (PREPARING, PREPARED, UPLOADED or RESTORING).
        model_uuid: the controller model (logins during a restore cannot look it up).
        controller_version: the controller's Juju version.
        started_at: when the restore began.
        uploaded: whether the archive was uploaded for it.
    """

    backup_id: str
    controller_id: str
    step: str
    model_uuid: str
    controller_version: str
    started_at: datetime
    uploaded: bool = False

    def to_json(self) -> bytes:
        """The state file's content (nothing secret is in it)."""
        record = {
            "format": 1,
            "backup-id": self.backup_id,
            "controller-id": self.controller_id,
            "step": self.step,
            "model-uuid": self.model_uuid,
            "controller-version": self.controller_version,
            "started-at": format_time(self.started_at),
            "uploaded": self.uploaded,
        }
        return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> RestoreState:
        """Parse the state file's content.

        Raises:
            ValueError: it is not a state this charm wrote.
        """
        record: Any = json.loads(data)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        texts = ("backup-id", "controller-id", "step", "model-uuid", "controller-version")
        values = [record.get(key) for key in texts]  # pyright: ignore[reportUnknownMemberType]
        started = parse_time(record.get("started-at"))  # pyright: ignore[reportUnknownMemberType]
        if not all(isinstance(v, str) for v in values) or started is None:
            raise ValueError("a field is missing or has the wrong type")
        backup_id, controller_id, step, model_uuid, version = (str(v) for v in values)
        if step not in _STEPS:
            raise ValueError(f"unknown step {step!r}")
        uploaded = record.get("uploaded") is True  # pyright: ignore[reportUnknownMemberType]
        return cls(backup_id, controller_id, step, model_uuid, version, started, uploaded)

    def describe(self) -> str:
        """One line for the unit's status."""
        return (
            f"restore of {self.backup_id} on controller {self.controller_version} begun "
            f"{format_time(self.started_at)} stopped {_INTERRUPTED[self.step]}"
        )


@dataclasses.dataclass(frozen=True)
class RestorePlan:
    """What a confirmed restore would do, found without changing anything.

    Attributes:
        backup_id: the backup to restore.
        controller_version: the controller's Juju version.
        endpoint: the API address that answered.
        archive: the unit's archive (None when only the controller has the backup).
        size: the backup's size in bytes.
        controller_id: the controller's backup to restore; None until an upload makes one.
        upload: whether the unit's archive must be uploaded first.
        controller_differs: the controller has this id, with other content (checksum).
    """

    backup_id: str
    controller_version: str
    endpoint: str
    archive: Path | None
    size: int
    controller_id: str | None
    upload: bool
    controller_differs: bool = False


@dataclasses.dataclass(frozen=True)
class RestoreOutcome:
    """A restore the controller confirmed with FinishRestore.

    Attributes:
        backup_id: the backup asked for.
        controller_id: the controller's backup that was restored.
        controller_version: the controller's Juju version.
        uploaded: the archive was uploaded for it.
        resumed: an earlier hook began it; this one finished it.
        started_at: when the restore began.
        finished_at: when FinishRestore confirmed it.
    """

    backup_id: str
    controller_id: str
    controller_version: str
    uploaded: bool
    resumed: bool
    started_at: datetime
    finished_at: datetime


def read_state(path: Path) -> RestoreState | None:
    """The state of a restore an earlier hook left unfinished, if any.

    Args:
        path: the state file.

    Returns:
        The state, or None when no restore is under way.

    Raises:
        RestoreStateError: the file exists but cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise RestoreStateError(
            f"cannot read the restore state {path}: {error.strerror}"
        ) from None
    try:
        return RestoreState.from_json(data)
    except ValueError as error:
        raise RestoreStateError(
            f"the restore state {path} is damaged ({error}): check the controller (juju status "
            "-m controller), then delete the file"
        ) from None


class _NotBackYet(Exception):  # noqa: N818 -- a signal to keep waiting, not a failure
    """The controller is still restoring or restarting."""


class RestoreService(BackupService):
    """Restores a backup through the controller, keeping its progress on the storage."""

    def __init__(
        self,
        access: ControllerAccess,
        catalogue: Catalogue,
        *,
        application: str,
        lock_path: Path,
        state_path: Path,
        timeout: float = 60.0,
        restore_timeout: float = 1800.0,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        """Set up the restore.

        Args:
            access: how to reach the controller.
            catalogue: the unit's archives.
            application: this application's name.
            lock_path: the unit's one-operation lock.
            state_path: where the restore's progress is kept between hooks.
            timeout: seconds for each API call.
            restore_timeout: seconds to wait for the controller to restore and come back.
            log: progress lines for the operator.
        """
        super().__init__(
            access,
            catalogue,
            application=application,
            lock_path=lock_path,
            timeout=timeout,
            log=log,
        )
        self._state_path = state_path
        self._restore_timeout = restore_timeout

    def pending(self) -> RestoreState | None:
        """The restore an earlier hook left unfinished, if any.

        Raises:
            RestoreStateError: the state file is damaged.
        """
        return read_state(self._state_path)

    def check_restore(self, backup_id: str, *, unit: str = "") -> RestorePlan:
        """Say what a confirmed restore would do; change nothing.

        Args:
            backup_id: the backup to restore.
            unit: this unit's name, for the juju scp command in a refusal.

        Returns:
            The plan.

        Raises:
            ServiceError: the restore could not be done (unknown id, damaged archive, a
                controller that cannot restore, an unfinished restore); the message says why.
        """
        self._check_id(backup_id)
        with self._exclusive(f"restore check of {backup_id}", action="restore"):
            pending = read_state(self._state_path)
            if pending is not None:
                raise RestoreRefusedError(
                    f"an earlier {pending.describe()}: run restore backup-id="
                    f"{pending.backup_id} confirm=true to finish it (update-status also does), "
                    "then check again"
                )
            with self._connect() as conn:
                return self._plan(conn, backup_id, unit)

    def restore(self, backup_id: str, *, unit: str = "") -> RestoreOutcome:
        """Restore a backup, or finish the restore an earlier hook left midway.

        Args:
            backup_id: the backup to restore.
            unit: this unit's name, for the juju scp command in a refusal.

        Returns:
            The restore the controller confirmed.

        Raises:
            ServiceError: with what happened, what state the controller is in and what to do.
        """
        self._check_id(backup_id)
        with self._exclusive(f"restore of {backup_id}", action="restore"):
            pending = read_state(self._state_path)
            if pending is not None and pending.step == RESTORING:
                self._log(f"finishing the earlier {pending.describe()}")
                outcome = self._finish(pending, resumed=True)
                if pending.backup_id != backup_id:
                    raise RestoreRefusedError(
                        f"finished the earlier restore of {pending.backup_id} first (the "
                        f"controller now runs that backup); the restore of {backup_id} was not "
                        "started: run it again if you still want it"
                    )
                return outcome
            if pending is not None:
                note = self._abandon(pending)
                self._log(f"the earlier {pending.describe()}: {note}")
                if self._state_path.exists():
                    raise RestoreRefusedError(
                        f"the earlier {pending.describe()}, and {note}; the restore of "
                        f"{backup_id} was not started"
                    )
            return self._restore_locked(backup_id, unit)

    def resume(self) -> RestoreOutcome | None:
        """Finish or report a restore an earlier hook left midway (for update-status).

        Returns:
            The finished restore, or None when there was none (or another operation runs).

        Raises:
            RestoreInterruptedError: it stopped before Restore was sent; nothing was restored.
            ServiceError: as for ``restore``.
        """
        try:
            with lock.exclusive(self._lock_path, "finishing an interrupted restore"):
                pending = read_state(self._state_path)
                if pending is None:
                    return None
                if pending.step != RESTORING:
                    note = self._abandon(pending)
                    raise RestoreInterruptedError(
                        f"the {pending.describe()}: nothing was restored, and {note}. Run "
                        f"restore backup-id={pending.backup_id} confirm=true to try again"
                    )
                return self._finish(pending, resumed=True)
        except lock.Busy:
            return None

    # -- steps -----------------------------------------------------------------------------

    def _plan(self, conn: Connection, backup_id: str, unit: str) -> RestorePlan:
        version = conn.server_version
        backups = self._backups(conn)
        local = self._catalogue.get(backup_id)
        if "restore" not in backups.capabilities:
            if local is None:
                raise UnknownBackupError(
                    f"no backup {backup_id} on this unit ({self._catalogue.root}), and "
                    f"controller {version} keeps none of its own. Run list-backups to see the ids"
                )
            raise RestoreUnsupportedError(_no_api_restore(version, local.archive, unit))
        remote = self._lookup(lambda: self._info_or_none(backups, backup_id))
        if local is None and remote is None:
            raise UnknownBackupError(
                f"no backup {backup_id} on this unit ({self._catalogue.root}), nor in the store "
                f"of controller {version}. Run list-backups to see the ids"
            )
        plan = RestorePlan(
            backup_id=backup_id,
            controller_version=version,
            endpoint=conn.endpoint,
            archive=local.archive if local is not None else None,
            size=local.size if local is not None else remote.size if remote else 0,
            controller_id=backup_id,
            upload=False,
        )
        if local is None:
            return plan
        expected = self._verify(local)
        if remote is not None and remote.checksum == expected:
            return plan
        return self._plan_upload(backups, plan, local, expected, differs=remote is not None)

    def _plan_upload(
        self, backups: Backups, plan: RestorePlan, local: Entry, expected: str, *, differs: bool
    ) -> RestorePlan:
        version = plan.controller_version
        # The controller may hold the same archive under another id (an earlier upload).
        stored = self._lookup(lambda: backups.list(timeout=self._timeout))
        for meta in stored:
            if meta.checksum == expected and meta.size == local.size:
                self._log(f"controller {version} holds this archive as {meta.id}")
                return dataclasses.replace(plan, controller_id=meta.id)
        if "upload" not in backups.capabilities:
            raise RestoreUnsupportedError(
                f"controller {version} does not have backup {local.id} in its store, and "
                "controllers before Juju 2.4 cannot take an uploaded archive, so it cannot "
                f"restore it. The archive is on this unit at {local.archive}"
            )
        return dataclasses.replace(
            plan, controller_id=None, upload=True, controller_differs=differs
        )

    def _verify(self, entry: Entry) -> str:
        expected = str(entry.metadata.get("checksum") or "")
        self._log(f"verifying {entry.archive.name} ({human_size(entry.size)})")
        try:
            actual = checksum(entry.archive)
        except OSError as error:
            raise CorruptArchiveError(
                f"cannot read the archive of backup {entry.id} ({entry.archive}): {error.strerror}"
            ) from None
        if not expected or actual != expected:
            raise CorruptArchiveError(
                f"the archive of backup {entry.id} on this unit ({entry.archive}) does not "
                f"match its checksum (expected {expected or 'none recorded'}, found {actual}): "
                "it is damaged and must not be restored. Restore another backup (see "
                "list-backups) and remove this one with remove-backups"
            )
        self._log("archive verified")
        return expected

    def _restore_locked(self, backup_id: str, unit: str) -> RestoreOutcome:
        with self._connect() as conn:
            plan = self._plan(conn, backup_id, unit)
            backups = self._backups(conn)
            state = self._save(
                RestoreState(
                    backup_id=backup_id,
                    controller_id=plan.controller_id or "",
                    step=PREPARING,
                    model_uuid=conn.model_uuid or "",
                    controller_version=conn.server_version,
                    started_at=datetime.now(timezone.utc),
                )
            )
            try:
                self._log(f"PrepareRestore: controller {conn.server_version} enters restore mode")
                self._step(
                    lambda: backups.prepare_restore(timeout=self._timeout), "PrepareRestore"
                )
                state = self._save(dataclasses.replace(state, step=PREPARED))
                if plan.upload:
                    uploaded = self._upload(conn, backups, backup_id)
                    state = self._save(
                        dataclasses.replace(
                            state, controller_id=uploaded, step=UPLOADED, uploaded=True
                        )
                    )
            except ServiceError as error:
                raise type(error)(
                    f"{error}. Nothing was restored; {self._abandon(state)}"
                ) from None
        return self._send_restore(state)

    def _upload(self, conn: Connection, backups: Backups, backup_id: str) -> str:
        entry = self._catalogue.get(backup_id)
        if entry is None:
            raise UploadRejectedError(f"the archive of backup {backup_id} vanished from this unit")
        try:
            metadata = BackupMetadata.from_wire(entry.metadata)
        except ProtocolError as error:
            raise UploadRejectedError(
                f"the metadata this unit keeps for backup {backup_id} is incomplete ({error}), "
                "so it cannot be uploaded"
            ) from None
        self._log(f"uploading {entry.archive.name} ({human_size(entry.size)}) to {conn.endpoint}")
        try:
            uploaded = upload_backup(conn, entry.archive, metadata, timeout=self._timeout)
        except UnsupportedByController as error:
            raise RestoreUnsupportedError(str(error)) from None
        except (DownloadError, ConnectionFailed, CallTimeout, ProtocolError) as error:
            hint = (
                " (the controller already has a different backup with this id: restore that "
                "one, or remove it from the controller first)"
                if "already exists" in str(error)
                else ""
            )
            raise UploadRejectedError(
                f"the controller refused the upload of backup {backup_id}: {error}{hint}"
            ) from None
        except JujuError as error:
            raise UploadRejectedError(
                f"the upload of backup {backup_id} failed: {error}"
            ) from None
        copy = self._lookup(lambda: self._info_or_none(backups, uploaded))
        expected = str(entry.metadata.get("checksum") or "")
        if copy is None or copy.checksum != expected:
            found = "nothing" if copy is None else f"checksum {copy.checksum}"
            raise UploadRejectedError(
                f"the controller stored the upload of backup {backup_id} as {uploaded}, but "
                f"has {found} there instead of checksum {expected}"
            )
        self._log(f"uploaded as {uploaded}; the controller's copy matches the checksum")
        return uploaded

    def _send_restore(self, state: RestoreState) -> RestoreOutcome:
        try:
            conn = self._login(state.model_uuid)
        except ServiceError as error:
            raise type(error)(f"{error}. Nothing was restored; {self._abandon(state)}") from None
        try:
            backups = self._backups(conn)
        except ServiceError as error:
            conn.close()
            raise type(error)(f"{error}. Nothing was restored; {self._abandon(state)}") from None
        try:
            state = self._save(dataclasses.replace(state, step=RESTORING))
            self._log(
                f"Restore: controller {state.controller_version} restores {state.controller_id} "
                "and restarts"
            )
            try:
                backups.restore(state.controller_id, timeout=self._restore_timeout)
            except CallTimeout:
                self._log("no answer to Restore in time; waiting for the controller all the same")
            except APIError as error:
                note = self._abandon(state)
                raise RestoreRefusedError(
                    f"controller {state.controller_version} refused to restore "
                    f"{state.controller_id}: {error}. Nothing was restored; {note}"
                ) from None
        finally:
            conn.close()
        return self._finish(state, resumed=False)

    def _finish(self, state: RestoreState, *, resumed: bool) -> RestoreOutcome:
        """Wait for the controller to come back, then confirm the restore with FinishRestore."""
        deadline = time.monotonic() + self._restore_timeout
        delay = RESTART_BACKOFF
        self._log(
            f"waiting for controller {state.controller_version} to come back (up to "
            f"{self._restore_timeout:g} s)"
        )
        while True:
            try:
                self._finish_once(state)
            except _NotBackYet as waiting:
                if time.monotonic() + delay > deadline:
                    raise RestartTimeoutError(
                        f"controller {state.controller_version} did not confirm the restore of "
                        f"{state.controller_id} within {self._restore_timeout:g} s (last "
                        f"answer: {waiting}). It may still be restoring: the charm checks at "
                        "every update-status and finishes the restore once the controller "
                        f"answers; run restore backup-id={state.backup_id} confirm=true to wait "
                        "again"
                    ) from None
                self._log(f"not back yet ({waiting}); trying again in {delay:g} s")
                time.sleep(delay)
                delay = min(delay * 2, RESTART_BACKOFF_MAX)
                continue
            break
        self._clear()
        self._log(f"FinishRestore: controller {state.controller_version} confirmed the restore")
        return RestoreOutcome(
            backup_id=state.backup_id,
            controller_id=state.controller_id,
            controller_version=state.controller_version,
            uploaded=state.uploaded,
            resumed=resumed,
            started_at=state.started_at,
            finished_at=datetime.now(timezone.utc),
        )

    def _finish_once(self, state: RestoreState) -> None:
        conn = self._reconnect(state)
        try:
            self._require_superuser(conn)
            Backups(conn).finish_restore(timeout=self._timeout)
        except (ConnectionFailed, CallTimeout, RestoreInProgress, RetryableError) as error:
            raise _NotBackYet(str(error)) from None
        except APIError as error:
            self._clear()
            if _NOT_FINISHED in str(error):
                raise RestoreFailedError(
                    f"controller {state.controller_version} reports that the restore of "
                    f"{state.controller_id} did not finish successfully ({error}). Check the "
                    "controller before using it: juju debug-log -m controller, and the logs in "
                    "/var/log/juju on the controller machines"
                ) from None
            raise RestoreFailedError(
                f"FinishRestore for the restore of {state.controller_id} failed: {error}"
            ) from None
        except JujuError as error:
            raise RestoreFailedError(
                f"FinishRestore for the restore of {state.controller_id} failed: {error}; the "
                "charm tries again at the next update-status"
            ) from None
        finally:
            conn.close()

    def _reconnect(self, state: RestoreState) -> Connection:
        access = self._access
        try:
            return self._open(state.model_uuid or None)
        except TLSVerificationFailed as error:
            raise ServiceError(
                f"the controller came back from the restore with a certificate that "
                f"{access.ca_source} does not match ({error}); put the restored controller's "
                "ca-cert in the credentials secret: the charm then finishes the restore"
            ) from None
        except (ConnectionFailed, CallTimeout, RestoreInProgress, RetryableError) as error:
            raise _NotBackYet(str(error)) from None
        except Unauthorized:
            raise ServiceError(
                f"the restored controller refuses the login of user {access.username!r}: the "
                "backup may predate the user or its password. Put an account the restored "
                "controller knows in the credentials secret: the charm then finishes the restore"
            ) from None
        except JujuError as error:
            raise _NotBackYet(str(error)) from None

    def _abandon(self, state: RestoreState) -> str:
        """Take the controller out of restore mode after a restore stopped before Restore.

        FinishRestore moves a pending restore to failed, which lifts restore mode's limits.

        Returns:
            What became of the controller, for the operator.
        """
        try:
            conn = self._login(state.model_uuid or None)
        except ServiceError as error:
            return self._kept(state, str(error))
        try:
            Backups(conn).finish_restore(timeout=self._timeout)
        except (ConnectionFailed, CallTimeout, RestoreInProgress) as error:
            return self._kept(state, str(error))
        except JujuError as error:
            # "did not finish successfully": the pending restore is now failed; anything else
            # (no restore under way) means restore mode was never entered.
            logger.info("FinishRestore after an abandoned restore: %s", error)
        finally:
            conn.close()
        self._clear()
        return "the controller is out of restore mode"

    def _kept(self, state: RestoreState, reason: str) -> str:
        return (
            f"the controller could not be taken out of restore mode ({reason}): the charm "
            "tries again at the next update-status"
        )

    def _step(self, call: Callable[[], None], name: str) -> None:
        try:
            call()
        except APIError as error:
            raise RestoreRefusedError(f"the controller refused {name}: {error}") from None
        except (ConnectionFailed, CallTimeout) as error:
            raise UnavailableError(f"lost the controller during {name} ({error})") from None
        except JujuError as error:
            raise RestoreRefusedError(f"{name} failed: {error}") from None

    def _lookup(self, call: Callable[[], T]) -> T:
        try:
            return with_retries(call, attempts=LOOKUP_ATTEMPTS, backoff=LOOKUP_BACKOFF)
        except (ConnectionFailed, CallTimeout, RetryableError) as error:
            raise UnavailableError(f"lost the controller ({error}); try again later") from None
        except JujuError as error:
            raise RestoreRefusedError(f"the controller could not be asked: {error}") from None

    def _save(self, state: RestoreState) -> RestoreState:
        write_atomically(self._state_path, state.to_json(), mode=0o600)
        return state

    def _clear(self) -> None:
        self._state_path.unlink(missing_ok=True)


def _no_api_restore(version: str, archive: Path, unit: str) -> str:
    source = f"{unit}:{archive}" if unit else str(archive)
    if parse_version(version) >= (4, 0, 0):
        return (
            f"controller {version} cannot restore through its API: Juju 4 controllers keep "
            "their state in Dqlite, which neither the API nor the standalone juju-restore tool "
            f"restores; follow Juju 4's own restore procedure. The archive is on this unit at "
            f"{archive}"
        )
    return (
        f"controller {version} cannot restore through its API: from Juju 2.9.22 on, a backup "
        "is restored with the standalone juju-restore tool "
        "(https://github.com/juju/juju-restore), run on the primary controller machine. The "
        f"archive is on this unit at {archive}: copy it to that machine (juju scp {source} . "
        f"then juju scp -m controller {archive.name} <machine>:) and run juju-restore "
        f"{archive.name} there"
    )


__all__ = [
    "PREPARED",
    "PREPARING",
    "RESTORING",
    "STATE_FILE",
    "UPLOADED",
    "CorruptArchiveError",
    "RestartTimeoutError",
    "RestoreFailedError",
    "RestoreInterruptedError",
    "RestoreOutcome",
    "RestorePlan",
    "RestoreRefusedError",
    "RestoreService",
    "RestoreState",
    "RestoreStateError",
    "RestoreUnsupportedError",
    "UploadRejectedError",
    "read_state",
]
