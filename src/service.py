"""Backup operations as plain Python: no ops, so they run and are tested outside a charm.

``BackupService.create`` is the whole path of one backup: connect, Create on the controller,
check the storage has room, download from the API address that served the Create (the archive
only exists on that controller machine), verify the checksum, and catalogue the archive, all
under the unit's one-operation lock. Every failure becomes a ``ServiceError`` whose message says
what went wrong and what the operator can do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import yaml

import lock
from catalogue import (
    Catalogue,
    CatalogueError,
    Entry,
    InvalidBackupId,
    checksum,
)
from inventory import BackupDetails, BackupListing, Removal, RemovalOutcome, merge
from juju_api import (
    BackupMetadata,
    Backups,
    Connection,
    connect,
    find_controller_model,
    with_retries,
)
from juju_api.errors import (
    APIError,
    CallTimeout,
    ChecksumMismatch,
    ConnectionFailed,
    DownloadError,
    JujuError,
    NotFound,
    NotImplementedByController,
    NotSupported,
    ProtocolError,
    RetryableError,
    TLSVerificationFailed,
    Unauthorized,
    UnsupportedByController,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds between attempts; a module constant so functional tests can shorten it.
RETRY_BACKOFF = 2.0
CONNECT_ATTEMPTS = 3
CREATE_ATTEMPTS = 3
# Room kept free beside the archive for its metadata file and the filesystem's own needs.
SPACE_MARGIN = 16 << 20
DEFAULT_AGENTS_DIR = Path("/var/lib/juju/agents")


class ServiceError(Exception):
    """A backup operation failed; the message says why and what to do.

    Attributes:
        blocked: the operator must change something (credentials, access, configuration).
        retryable: it should pass by itself; trying again later is the fix.
    """

    blocked = False
    retryable = False


class OperatorFixError(ServiceError):
    """The operator must fix something before any backup can work."""

    blocked = True


class AccessDeniedError(OperatorFixError):
    """Wrong password, or the user may not take backups."""


class CertificateMismatchError(OperatorFixError):
    """The controller's certificate is not signed by the CA the charm was given."""


class UnsupportedControllerError(OperatorFixError):
    """This controller cannot take backups through the API (Kubernetes, Juju 4.0, ...)."""


class WrongModelError(OperatorFixError):
    """controller-model-uuid does not name the controller model."""


class UnavailableError(ServiceError):
    """The controller cannot be reached or is busy; it should pass."""

    retryable = True


class BackupFailedError(ServiceError):
    """This backup failed, but the next one may well work."""


class NotEnoughSpaceError(BackupFailedError):
    """The archives storage has no room for the archive the controller made."""


class DownloadFailedError(BackupFailedError):
    """The download was cut short or did not match the checksum; nothing was kept."""


class AlreadyRunningError(ServiceError):
    """Another operation holds the unit's lock."""


class InvalidBackupIdError(ServiceError):
    """A backup id that cannot be one (it could escape the storage directory, for one)."""


class UnknownBackupError(ServiceError):
    """No backup with that id on the unit, nor on the controller."""


@dataclasses.dataclass(frozen=True)
class ControllerAccess:
    """How to reach the controller, and as whom.

    Attributes:
        endpoints: API addresses (host:port), tried in order.
        ca_cert: the controller's CA certificate (PEM).
        username: a plain user name ("backups").
        password: the user's password; hidden from repr.
        model_uuid: the controller model's UUID; None to look it up with ListModels.
        ca_source: where ca_cert came from, for the message when it does not match.
    """

    endpoints: list[str]
    ca_cert: str
    username: str
    password: str = dataclasses.field(repr=False)
    model_uuid: str | None = None
    ca_source: str = "the ca-cert in the secret"


@dataclasses.dataclass(frozen=True)
class ControllerFacts:
    """What is known of the controller once logged in: what a notes template can name.

    Attributes:
        uuid: the controller's UUID.
        version: the controller's Juju version, e.g. "3.6.27".
    """

    uuid: str
    version: str


@dataclasses.dataclass(frozen=True)
class ControllerCheck:
    """What a successful ``BackupService.check`` found."""

    server_version: str
    endpoint: str
    model_uuid: str


def endpoints_from_env(environ: Mapping[str, str]) -> list[str]:
    """The hosting controller's API addresses, as Juju gives them to every hook.

    Args:
        environ: the process environment (os.environ).

    Returns:
        host:port strings from JUJU_API_ADDRESSES (space-separated), possibly empty.
    """
    return environ.get("JUJU_API_ADDRESSES", "").split()


def agent_conf_path(unit_name: str, agents_dir: Path = DEFAULT_AGENTS_DIR) -> Path:
    """Where the unit agent keeps its configuration, with the hosting controller's CA.

    Args:
        unit_name: "juju-backups/0".
        agents_dir: Juju's agents directory.

    Returns:
        The path of the unit's agent.conf.
    """
    return agents_dir / f"unit-{unit_name.replace('/', '-')}" / "agent.conf"


def ca_from_agent_conf(path: Path) -> str | None:
    """The ``cacert`` of a unit agent's agent.conf.

    Args:
        path: the agent.conf file (YAML, readable by root).

    Returns:
        The CA certificate (PEM), or None when the file or the field is missing or unreadable.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        logger.debug("cannot read the CA from %s: %s", path, type(error).__name__)
        return None
    if not isinstance(data, dict):
        return None
    ca = data.get("cacert")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return ca if isinstance(ca, str) and ca.strip() else None


def human_size(size: int) -> str:
    """Bytes as an operator reads them: "1.5 GiB".

    Args:
        size: a number of bytes.

    Returns:
        The size with a binary unit.
    """
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class BackupService:
    """Backup operations against one controller, with archives kept in one catalogue."""

    def __init__(
        self,
        access: ControllerAccess,
        catalogue: Catalogue,
        *,
        application: str,
        lock_path: Path,
        timeout: float = 60.0,
        create_timeout: float = 1800.0,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self._access = access
        self._catalogue = catalogue
        self._application = application
        self._lock_path = lock_path
        self._timeout = timeout
        self._create_timeout = create_timeout
        self._log_callback = log

    def check(self) -> ControllerCheck:
        """Log in and find the controller model, to report problems before a backup is due.

        Returns:
            What was found.

        Raises:
            ServiceError: the same errors ``create`` raises for connecting.
        """
        with self._connect() as conn:
            _refuse_unsupported_version(conn.server_version)
            self._backups(conn)
            assert conn.model_uuid is not None
            return ControllerCheck(conn.server_version, conn.endpoint, conn.model_uuid)

    def create(
        self,
        notes: str | Callable[[ControllerFacts], str],
        *,
        keep_copy: bool = False,
        trigger: str = "manual",
    ) -> Entry:
        """Take a backup, download it, verify it and keep it in the catalogue.

        Args:
            notes: stored with the backup on the controller; or a function that makes them
                from what the login told about the controller (a notes template naming
                the controller or its version can only be filled in then).
            keep_copy: ask the controller to keep its own copy (2.4 to 2.9.21 only; ignored
                with a log line elsewhere).
            trigger: what asked for it ("manual", "scheduled", a requesting application),
                kept in the catalogue.

        Returns:
            The catalogue entry of the verified archive.

        Raises:
            ServiceError: with the reason and the fix; nothing is left on the storage.
        """
        with self._exclusive(f"create-backup ({trigger})", action="create-backup"):
            return self._create_locked(notes, keep_copy=keep_copy, trigger=trigger)

    def _create_locked(
        self, notes: str | Callable[[ControllerFacts], str], *, keep_copy: bool, trigger: str
    ) -> Entry:
        with self._connect() as conn:
            _refuse_unsupported_version(conn.server_version)
            if not isinstance(notes, str):
                notes = notes(ControllerFacts(conn.controller_uuid, conn.server_version))
            self._log(f"creating backup on controller {conn.server_version} at {conn.endpoint}")
            backups = self._backups(conn)
            if keep_copy and "keep-copy" not in backups.capabilities:
                # Backups v1 (Juju 2.0 to 2.3) keeps every backup whatever is asked.
                if backups.version >= 2:
                    self._log(
                        f"keep-copy ignored: controller {conn.server_version} does not keep "
                        "copies (only Juju 2.4 to 2.9.21 do)"
                    )
                keep_copy = False
            meta = self._create_on_controller(conn, backups, notes, keep_copy)
            # The id comes from the controller: refuse one that cannot name a file before it
            # is shown anywhere (action logs are hook-tool arguments: no NUL, bounded size).
            dest = self._destination(meta)
            self._log(f"backup {meta.id} created ({human_size(meta.size)})")
            self._check_space(meta)
            self._log(f"downloading from {conn.endpoint}")
            self._download(conn, backups, meta, dest)
            endpoint = conn.endpoint
        self._log("checksum verified")
        return self._record(meta, trigger=trigger, source=endpoint)

    # -- list, show, remove ----------------------------------------------------------------

    def list_backups(self) -> BackupListing:
        """List the unit's archives merged with the backups the controller keeps.

        Only Juju 2.0 to 2.9.21 controllers keep backups; when the controller cannot be asked,
        the unit's archives are listed all the same and the listing says why.

        Returns:
            One row per backup, newest first, and what the controller contributed.

        Raises:
            ServiceError: the archives storage cannot be read.
        """
        local = self._local_entries()
        remote, note = self._controller_list()
        return BackupListing(merge(local, remote), note)

    def show_backup(self, backup_id: str) -> BackupDetails:
        """Everything known about one backup, and whether the unit's archive is intact.

        Args:
            backup_id: the backup's id.

        Returns:
            The metadata (never CA material), where copies live, and both checksums.

        Raises:
            InvalidBackupIdError: the id cannot be a backup id.
            UnknownBackupError: neither the unit nor the controller has it.
        """
        self._check_id(backup_id)
        local = self._catalogue.get(backup_id)
        remote, note = self._controller_info(backup_id)
        if remote is not None:
            metadata = remote.to_wire()
        elif local is not None:
            metadata = dict(local.metadata)
        else:
            raise UnknownBackupError(
                f"no backup {backup_id} on this unit ({self._catalogue.root}), and {note}. "
                "Run list-backups to see the ids"
            )
        expected = actual = None
        if local is not None:
            expected = str(local.metadata.get("checksum") or "") or None
            self._log(f"verifying {local.archive.name} ({human_size(local.size)})")
            try:
                actual = checksum(local.archive)
            except OSError as error:
                self._log(f"cannot read {local.archive}: {error.strerror}")
        return BackupDetails(
            id=backup_id,
            metadata=metadata,
            local=local,
            expected_checksum=expected,
            actual_checksum=actual,
            on_controller=remote is not None,
            controller=note,
        )

    def remove_backups(self, ids: Sequence[str]) -> Removal:
        """Remove backups from the unit and from the controller's own store.

        Each id stands alone: an unknown or invalid id is an error for that id only.

        Args:
            ids: the backup ids, in the order the operator gave them.

        Returns:
            One outcome per distinct id, and what the controller contributed.

        Raises:
            InvalidBackupIdError: no id was given.
            AlreadyRunningError: another operation holds the unit's lock.
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            raise InvalidBackupIdError(
                "no backup ids given: pass backup-ids=<id>[,<id>...] (see list-backups)"
            )
        with self._exclusive(f"remove-backups ({', '.join(wanted)})", action="remove-backups"):
            return self._remove_locked(wanted)

    def _remove_locked(self, ids: list[str]) -> Removal:
        invalid: dict[str, str] = {}
        for backup_id in ids:
            try:
                self._check_id(backup_id)
            except InvalidBackupIdError as error:
                invalid[backup_id] = str(error)
        remote = self._controller_remove([i for i in ids if i not in invalid])
        outcomes: list[RemovalOutcome] = []
        for backup_id in ids:
            if backup_id in invalid:
                outcomes.append(RemovalOutcome(backup_id, error=invalid[backup_id]))
                continue
            where: list[str] = []
            error = remote.errors.get(backup_id)
            if backup_id in remote.removed:
                where.append("controller")
            try:
                if self._catalogue.remove(backup_id):
                    where.insert(0, "unit")
            except OSError as failure:
                error = f"cannot delete the archive on this unit: {failure.strerror}"
            if where:
                self._log(f"removed {backup_id} from {' and '.join(where)}")
            elif error is None:
                error = (
                    f"no backup {backup_id} on this unit ({self._catalogue.root}), and "
                    f"{remote.missing}"
                )
            outcomes.append(RemovalOutcome(backup_id, tuple(where), error))
        return Removal(outcomes, remote.note)

    def _check_id(self, backup_id: str) -> None:
        try:
            self._catalogue.archive_path(backup_id)  # validates the id, and more
        except InvalidBackupId as error:
            raise InvalidBackupIdError(f"{error}; run list-backups to see the ids") from None

    def _local_entries(self) -> list[Entry]:
        try:
            return self._catalogue.list()
        except OSError as error:
            raise BackupFailedError(
                f"cannot read the archives storage {self._catalogue.root}: {error.strerror}"
            ) from None

    def _controller_list(self) -> tuple[list[BackupMetadata], str]:
        try:
            with self._connect() as conn:
                backups = self._backups(conn)
                version = conn.server_version
                if "list" not in backups.capabilities:
                    return [], _keeps_nothing(version)
                found = self._ask(lambda: backups.list(timeout=self._timeout), "listing backups")
        except ServiceError as error:
            self._log(f"listing this unit's archives only: {error}")
            return [], f"the controller was not asked ({error})"
        count = f"{len(found)} backup" + ("" if len(found) == 1 else "s")
        return found, f"controller {version} keeps {count} in its own store"

    def _controller_info(self, backup_id: str) -> tuple[BackupMetadata | None, str]:
        try:
            with self._connect() as conn:
                backups = self._backups(conn)
                version = conn.server_version
                if "info" not in backups.capabilities:
                    return None, _keeps_nothing(version)
                found = self._ask(
                    lambda: self._info_or_none(backups, backup_id), "looking the backup up"
                )
        except ServiceError as error:
            self._log(f"showing what this unit knows only: {error}")
            return None, f"the controller was not asked ({error})"
        if found is None:
            return None, f"controller {version} does not have it in its store"
        return found, f"controller {version} keeps a copy in its store"

    def _controller_remove(self, ids: list[str]) -> _RemoteRemoval:
        if not ids:
            return _RemoteRemoval(note="the controller was not asked", missing="")
        try:
            with self._connect() as conn:
                backups = self._backups(conn)
                version = conn.server_version
                if "remove" not in backups.capabilities:
                    return _RemoteRemoval(
                        note=_keeps_nothing(version), missing=_keeps_nothing(version)
                    )
                results = self._ask(
                    lambda: backups.remove(ids, timeout=self._timeout), "removing backups"
                )
        except ServiceError as error:
            self._log(f"removing from this unit only: {error}")
            return _RemoteRemoval(
                note=f"the controller could not be asked ({error})",
                missing=f"the controller could not be asked ({error}): its copy, if any, stays",
            )
        removal = _RemoteRemoval(
            note=f"controller {version} keeps backups in its own store: asked it to remove them",
            missing=f"controller {version} does not have it",
        )
        for result in results:
            if result.error is None:
                removal.removed.add(result.id)
            elif not isinstance(result.error, NotFound):
                removal.errors[result.id] = f"the controller refused to remove it: {result.error}"
        return removal

    def _info_or_none(self, backups: Backups, backup_id: str) -> BackupMetadata | None:
        try:
            return backups.info(backup_id, timeout=self._timeout)
        except NotFound:
            return None

    def _ask(self, call: Callable[[], T], doing: str) -> T:
        """Make a read-only or idempotent call, retrying the controller's "not now" answers."""
        try:
            return with_retries(call, attempts=CONNECT_ATTEMPTS, backoff=RETRY_BACKOFF)
        except (ConnectionFailed, CallTimeout, RetryableError) as error:
            raise UnavailableError(
                f"lost the controller while {doing} ({error}); try again later"
            ) from None
        except JujuError as error:
            raise _unexpected(error, doing) from None

    # -- steps -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self, description: str, *, action: str) -> Iterator[None]:
        """Hold the unit's one-operation lock; ``action`` is what the operator runs again."""
        try:
            with lock.exclusive(self._lock_path, description):
                yield
        except lock.Busy as busy:
            raise AlreadyRunningError(
                f"another backup operation is running on this unit: {busy.holder}; wait for "
                f"it to finish, then run {action} again"
            ) from None

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection to the controller model, its UUID looked up when not configured."""
        model_uuid = self._access.model_uuid
        if model_uuid is None:
            with self._login(None) as first:
                model_uuid = self._find_controller_model(first)
        conn = self._login(model_uuid)
        try:
            yield conn
        finally:
            conn.close()

    def _open(self, model_uuid: str | None) -> Connection:
        """One login, Juju's errors as they come: callers say what each means."""
        access = self._access
        return connect(
            access.endpoints,
            access.ca_cert,
            access.username,
            access.password,
            model_uuid=model_uuid,
            timeout=self._timeout,
        )

    def _login(self, model_uuid: str | None) -> Connection:
        access = self._access
        where = ", ".join(access.endpoints)
        last: JujuError | None = None
        for number in range(1, CONNECT_ATTEMPTS + 1):
            try:
                conn = self._open(model_uuid)
            except TLSVerificationFailed as error:
                raise CertificateMismatchError(
                    f"{access.ca_source} does not match the controller at {where} ({error}): "
                    "put the controller's ca-cert (from `juju show-controller "
                    "--show-password`) in the credentials secret"
                ) from None
            except Unauthorized:
                raise AccessDeniedError(
                    f"the controller at {where} refused the login of user {access.username!r}: "
                    "check the password in the credentials secret (juju update-secret), and "
                    f"that the user has controller access (juju grant {access.username} "
                    "superuser)"
                ) from None
            except (ConnectionFailed, CallTimeout, RetryableError) as error:
                last = error
                if number < CONNECT_ATTEMPTS:
                    time.sleep(RETRY_BACKOFF * number)
            except JujuError as error:
                raise _unexpected(error, "logging in") from None
            except ValueError as error:
                raise OperatorFixError(f"cannot connect to the controller: {error}") from None
            else:
                self._require_superuser(conn)
                return conn
        raise UnavailableError(
            f"cannot reach the controller at {where} ({last}); the charm tries again later"
        ) from None

    def _require_superuser(self, conn: Connection) -> None:
        # Login says what access the user has; without superuser, Backups refuses everything.
        access = conn.controller_access
        if access is None or access == "superuser":
            return
        conn.close()
        username = self._access.username
        raise AccessDeniedError(
            f"user {username!r} has {access!r} access to the controller, and backups need "
            f"superuser: run `juju grant {username} superuser`"
        )

    def _find_controller_model(self, conn: Connection) -> str:
        username = self._access.username
        try:
            summary = find_controller_model(conn)
        except NotFound:
            raise AccessDeniedError(
                f"user {username!r} cannot see the controller model, so it is not a "
                f"superuser: run `juju grant {username} superuser` (or set "
                "controller-model-uuid if the model is there)"
            ) from None
        except Unauthorized:
            raise AccessDeniedError(
                f"user {username!r} may not list the controller's models: run "
                f"`juju grant {username} superuser`"
            ) from None
        except (ConnectionFailed, CallTimeout, RetryableError) as error:
            raise UnavailableError(
                f"lost the controller while looking for its model ({error}); the charm tries "
                "again later"
            ) from None
        except JujuError as error:
            raise _unexpected(error, "looking for the controller model") from None
        if summary.type == "caas":
            raise _kubernetes(conn.server_version)
        return summary.uuid

    def _backups(self, conn: Connection) -> Backups:
        try:
            return Backups(conn)
        except UnsupportedByController as error:
            raise UnsupportedControllerError(f"{error}; this charm cannot back it up") from None

    def _create_on_controller(
        self, conn: Connection, backups: Backups, notes: str, keep_copy: bool
    ) -> BackupMetadata:
        username = self._access.username

        def create() -> BackupMetadata:
            # Only refusals (RetryableError: HA not ready, upgrade in progress, try again)
            # are retried: the controller made nothing. A dropped connection is not retried,
            # since the controller may have made the backup all the same.
            return backups.create(notes, keep_copy=keep_copy, timeout=self._create_timeout)

        try:
            return with_retries(create, attempts=CREATE_ATTEMPTS, backoff=RETRY_BACKOFF)
        except JujuError as error:
            raise _create_failure(error, conn, username) from None

    def _check_space(self, meta: BackupMetadata) -> None:
        free = self._catalogue.free_bytes()
        if meta.size + SPACE_MARGIN <= free:
            return
        raise NotEnoughSpaceError(
            f"not enough space on the archives storage ({self._catalogue.root}) for backup "
            f"{meta.id}: it needs {human_size(meta.size + SPACE_MARGIN)} and "
            f"{human_size(free)} is free. Nothing was downloaded; {_where_it_stays(meta)}. "
            "Remove old archives or attach a larger archives storage, then run create-backup "
            "again"
        )

    def _destination(self, meta: BackupMetadata) -> Path:
        try:
            dest = self._catalogue.archive_path(meta.id)
        except InvalidBackupId as error:
            raise BackupFailedError(
                f"cannot store backup {meta.id[:250]!r}: {error}. {_where_it_stays(meta)}"
            ) from None
        if self._catalogue.get(meta.id) is not None:
            # Juju names backups by the second they start: two in one second share the name.
            # The download would replace the verified archive already kept.
            raise BackupFailedError(
                f"backup {meta.id} is already on this unit's storage (two backups started in "
                f"the same second share their name); the new one was not downloaded and the "
                f"one kept is untouched; {_where_it_stays(meta)}. Run create-backup again"
            )
        return dest

    def _download(
        self, conn: Connection, backups: Backups, meta: BackupMetadata, dest: Path
    ) -> None:
        progress = _Progress(meta.size, self._log)
        try:
            conn.download(
                backups.download_id(meta),
                dest,
                expected_checksum=meta.checksum,
                expected_size=meta.size,
                progress=progress,
            )
        except ChecksumMismatch as error:
            raise DownloadFailedError(
                f"the archive of backup {meta.id} does not match the checksum the controller "
                f"reported (expected {error.expected}, got {error.actual}); the download was "
                f"discarded. {_lost_note(backups, meta)}"
            ) from None
        except (DownloadError, ConnectionFailed, CallTimeout) as error:
            raise DownloadFailedError(
                f"the download of backup {meta.id} from {conn.endpoint} was cut short "
                f"({error}); nothing was kept. {_lost_note(backups, meta)}"
            ) from None
        except JujuError as error:
            raise _unexpected(error, "downloading the backup") from None
        except OSError as error:
            # Writing to the storage failed (full, read-only, ...): the download removed its
            # partial file; without this the hook would crash with a traceback.
            raise DownloadFailedError(
                f"could not write backup {meta.id} to the archives storage "
                f"({self._catalogue.root}): {error.strerror or error}; nothing was kept. "
                f"{_lost_note(backups, meta)}"
            ) from None

    def _record(self, meta: BackupMetadata, *, trigger: str, source: str) -> Entry:
        try:
            return self._catalogue.add(
                meta.id,
                meta.to_wire(),
                application=self._application,
                trigger=trigger,
                source=source,
            )
        except (CatalogueError, OSError) as error:
            # Without its metadata file the archive would count as half-written: remove it
            # now so that the failure leaves nothing behind.
            with contextlib.suppress(OSError):
                self._catalogue.archive_path(meta.id).unlink(missing_ok=True)
            raise BackupFailedError(
                f"backup {meta.id} was downloaded and verified but could not be recorded on "
                f"the archives storage ({error}); the archive was removed. Run create-backup "
                "again"
            ) from None

    def _log(self, message: str) -> None:
        logger.info("%s", message)
        self._log_callback(message)


_JUJU4 = (
    "controller %s is Juju 4, whose backups are Dqlite-based and not offered through the API "
    "(Backups.Create answers 'not implemented'); this charm cannot back it up: use Juju 4's "
    "own backup tooling"
)


def _refuse_unsupported_version(server_version: str) -> None:
    if server_version.split(".")[0].isdigit() and int(server_version.split(".")[0]) >= 4:
        raise UnsupportedControllerError(_JUJU4 % server_version)


def _kubernetes(server_version: str) -> UnsupportedControllerError:
    return UnsupportedControllerError(
        f"controller {server_version} is hosted on Kubernetes and Juju refuses backups there "
        "(backups on kubernetes controllers not supported); point the credentials secret at "
        "a machine controller"
    )


def _create_failure(error: JujuError, conn: Connection, username: str) -> ServiceError:
    """Say what a failed Create means for the operator."""
    version = conn.server_version
    if isinstance(error, Unauthorized):
        return AccessDeniedError(
            f"user {username!r} may not take backups: run `juju grant {username} superuser`"
        )
    if isinstance(error, NotImplementedByController):
        if version.startswith("4."):
            return UnsupportedControllerError(_JUJU4 % version)
        return UnsupportedControllerError(
            f"controller {version} does not implement Backups.Create ({error})"
        )
    if isinstance(error, APIError) and "only supported from the controller model" in str(error):
        # Juju sends this one without an error code.
        return WrongModelError(
            f"the controller refused: {error.message.splitlines()[0]}. controller-model-uuid "
            "must be the controller model's UUID (`juju show-model controller`), or empty"
        )
    if isinstance(error, NotSupported):
        if "kubernetes" in str(error).lower():
            return _kubernetes(version)
        return UnsupportedControllerError(f"the controller refused the backup: {error}")
    if isinstance(error, UnsupportedByController):
        return UnsupportedControllerError(str(error))
    if isinstance(error, RetryableError):
        return UnavailableError(
            f"the controller could not take a backup now ({error}); try again later"
        )
    if isinstance(error, (ConnectionFailed, CallTimeout)):
        return UnavailableError(
            f"lost the controller at {conn.endpoint} while it was creating the backup "
            f"({error}). It may have made the backup anyway: look for a new "
            "juju-backup-*.tar.gz in the controller model's backup-dir (default /tmp) on "
            "that controller machine before trying again"
        )
    if isinstance(error, APIError):
        return BackupFailedError(f"the controller could not create the backup: {error}")
    return _unexpected(error, "creating the backup")


def _unexpected(error: JujuError, doing: str) -> ServiceError:
    if isinstance(error, ProtocolError):
        return BackupFailedError(f"the controller's answer made no sense while {doing}: {error}")
    return BackupFailedError(f"error while {doing}: {error}")


def _where_it_stays(meta: BackupMetadata) -> str:
    if meta.filename:
        return (
            f"the archive stays on controller machine {meta.controller_machine_id or '?'} "
            f"({meta.hostname or 'unknown host'}) as {meta.filename}: delete it there if you "
            "do not fetch it"
        )
    return f"the archive stays on the controller as backup {meta.id}"


def _lost_note(backups: Backups, meta: BackupMetadata) -> str:
    if "keep-copy" in backups.capabilities:
        return "Run create-backup again."
    return (
        "The controller deletes its archive when a download starts, so this backup is lost: "
        "run create-backup again."
    )


def _keeps_nothing(version: str) -> str:
    return (
        f"controller {version} keeps no backups of its own (from Juju 2.9.22 on, the unit's "
        "archives are the only copies)"
    )


@dataclasses.dataclass
class _RemoteRemoval:
    """What the controller did with a remove-backups request."""

    note: str  # for the whole request
    missing: str  # for an id neither the unit nor the controller had
    removed: set[str] = dataclasses.field(default_factory=set[str])
    errors: dict[str, str] = dataclasses.field(default_factory=dict[str, str])


class _Progress:
    """Reports download progress every 10%, not every chunk."""

    def __init__(self, total: int, log: Callable[[str], None]) -> None:
        self._total = total
        self._log = log
        self._next = 10

    def __call__(self, done: int, total: int | None) -> None:
        total = total or self._total
        if total <= 0:
            return
        percent = min(100, done * 100 // total)
        if percent >= self._next:
            self._log(f"downloading {percent}%")
            self._next = (percent // 10 + 1) * 10


__all__ = [
    "AccessDeniedError",
    "AlreadyRunningError",
    "BackupFailedError",
    "BackupService",
    "CertificateMismatchError",
    "ControllerAccess",
    "ControllerCheck",
    "ControllerFacts",
    "DownloadFailedError",
    "InvalidBackupIdError",
    "NotEnoughSpaceError",
    "OperatorFixError",
    "ServiceError",
    "UnavailableError",
    "UnknownBackupError",
    "UnsupportedControllerError",
    "WrongModelError",
    "agent_conf_path",
    "ca_from_agent_conf",
    "endpoints_from_env",
    "human_size",
]
