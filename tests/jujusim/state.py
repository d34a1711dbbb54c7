"""The simulated controller's state: users, models, archives, restore, faults, records."""

from __future__ import annotations

import datetime
import enum
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import archive
from .errors import NOT_FOUND, RpcError
from .profiles import Generation, Profile

ZERO_TIME = "0001-01-01T00:00:00Z"
CHECKSUM_FORMAT = "SHA-1, base64 encoded"
FILENAME_PREFIX = "juju-backup"


_ZERO_METADATA: dict[str, Any] = {
    **dict.fromkeys(
        [
            "id", "checksum", "checksum-format", "notes", "model", "machine", "hostname",
            "series", "base", "filename", "controller-uuid", "controller-machine-id",
            "controller-machine-inst-id", "ca-cert", "ca-private-key",
        ],
        "",
    ),
    **dict.fromkeys(["size", "format-version", "ha-nodes"], 0),
    "version": "0.0.0",
    **dict.fromkeys(["stored", "started", "finished"], ZERO_TIME),
}  # fmt: skip


def rfc3339(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class CallRecord:
    node: int
    facade: str
    version: int
    method: str
    params: Any


@dataclass
class User:
    name: str
    password: str
    superuser: bool
    # Access on every model ("admin", "write", "read"); "" means none: model logins refused.
    model_access: str


@dataclass(frozen=True)
class Model:
    name: str
    uuid: str
    owner: str = "admin"


@dataclass
class Archive:
    """An archive the controller can hand out."""

    metadata: dict[str, Any]
    path: Path
    # The node whose disk holds it, or None when it lives in the controller's database store.
    node: int | None
    one_shot: bool


@dataclass
class Fault:
    facade: str
    method: str
    kind: Literal["fail", "drop", "delay"]
    times: int
    code: str = ""
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class DownloadFault:
    truncate_at: int | None = None
    corrupt: bool = False
    bytes_per_second: float | None = None


@dataclass(frozen=True)
class Redirect:
    servers: list[list[dict[str, Any]]]
    ca_cert: str
    controller_tag: str


class RestoreStatus(enum.Enum):
    NOT_ACTIVE = "NOT-RESTORING"
    PENDING = "PENDING"
    IN_PROGRESS = "RESTORING"
    FINISHED = "RESTORED"
    CHECKED = "CHECKED"
    FAILED = "FAILED"


def _restore_transition_ok(before: RestoreStatus, after: RestoreStatus) -> bool:
    """state/restore.go's setRestoreStatusOps rules."""
    s = RestoreStatus
    if after is s.PENDING:
        return before in (s.NOT_ACTIVE, s.FAILED, s.CHECKED)
    if after is s.FAILED:
        return before not in (s.NOT_ACTIVE, s.CHECKED)
    if after is s.IN_PROGRESS:
        return before is s.PENDING
    if after is s.FINISHED:
        return before is not s.FAILED
    if after is s.CHECKED:
        return before is s.FINISHED
    return False


@dataclass
class Controller:
    profile: Profile
    root: Path
    ha: int
    archive_size: int
    ca_cert: str
    ca_key: str
    controller_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    kubernetes: bool = False
    now: Callable[[], datetime.datetime] = field(
        default=lambda: datetime.datetime.now(datetime.timezone.utc)
    )
    restore_downtime: float = 0.5
    restore_fails: bool = False

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.controller_model = Model("controller", str(uuid.uuid4()))
        self.default_model = Model("default", str(uuid.uuid4()))
        self.models = {m.uuid: m for m in (self.controller_model, self.default_model)}
        self.users: dict[str, User] = {}
        self.store: dict[str, Archive] = {}  # the 2.x controller database store, by backup id
        self.pending: dict[str, Archive] = {}  # 2.x archives not kept: one download, by id
        self.checksums: dict[str, str] = {}  # archive path -> checksum, for the Digest header
        self.calls: list[CallRecord] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.download_faults: list[DownloadFault] = []
        self.redirect: Redirect | None = None
        self.restore_status = RestoreStatus.NOT_ACTIVE
        self.restarting_until = 0.0
        self.node_dirs = [self.root / f"node-{i}" for i in range(self.ha)]
        self.store_dir = self.root / "store"
        for d in [*self.node_dirs, self.store_dir]:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)

    # -- records -------------------------------------------------------------------------

    def record_call(self, record: CallRecord) -> None:
        with self.lock:
            self.calls.append(record)

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)

    # -- faults --------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_faults(self, facade: str, method: str) -> list[Fault]:
        """The programmed faults that apply to this call, one of each kind, used up."""
        taken: list[Fault] = []
        with self.lock:
            for fault in list(self.faults):
                if fault.facade != facade or fault.method != method:
                    continue
                if any(t.kind == fault.kind for t in taken):
                    continue
                taken.append(fault)
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        return taken

    def take_download_fault(self) -> DownloadFault | None:
        with self.lock:
            return self.download_faults.pop(0) if self.download_faults else None

    # -- users and models ----------------------------------------------------------------

    def add_user(self, name: str, password: str, *, superuser: bool, model_access: str) -> None:
        with self.lock:
            self.users[name] = User(name, password, superuser, model_access)

    def authenticate(self, name: str, password: str) -> User | None:
        with self.lock:
            user = self.users.get(name)
        if user is None or not password or user.password != password:
            return None
        return user

    def model_access(self, user: User, model: Model) -> str:
        return "admin" if user.superuser else user.model_access

    def model_type(self) -> str:
        return "caas" if self.kubernetes else "iaas"

    # -- archives ------------------------------------------------------------------------

    def _metadata(
        self, node: int, notes: str, started: datetime.datetime, built: archive.BuiltArchive
    ) -> dict[str, Any]:
        short = self.controller_uuid[:6]
        return {
            "id": f"{started:%Y%m%d-%H%M%S}.{self.controller_model.uuid}",
            "checksum": built.checksum,
            "checksum-format": CHECKSUM_FORMAT,
            "size": built.size,
            "stored": ZERO_TIME,
            "started": rfc3339(started),
            "finished": rfc3339(self.now()),
            "notes": notes,
            "model": self.controller_model.uuid,
            "machine": str(node),
            "hostname": f"juju-{short}-{node}",
            "version": self.profile.juju_version,
            "series": self.profile.series,
            "base": self.profile.base,
            "ca-cert": self.ca_cert,
            "ca-private-key": self.ca_key,
            "filename": str(built.path),
            "format-version": 1,
            "controller-uuid": self.controller_uuid,
            "controller-machine-id": str(node),
            "controller-machine-inst-id": f"juju-{short}-{node}",
            "ha-nodes": self.ha,
        }

    def check_space(self, directory: Path) -> None:
        free = shutil.disk_usage(directory).free
        if free < self.archive_size:
            raise RpcError(
                f'not enough free space in "{directory}"; want {self.archive_size >> 20} MiB, '
                f"have {free >> 20} MiB"
            )

    def create(self, node: int, notes: str, *, keep_copy: bool, no_download: bool) -> dict:
        """Build an archive as the release would, and register it where the release keeps it.

        Blocking (it writes the archive): run it off the event loop.
        """
        started = self.now()
        stamp = f"{started:%Y%m%d-%H%M%S}"
        if self.profile.generation in (Generation.STORED_ONLY, Generation.STORED):
            return self._create_stored(node, notes, started, keep_copy, no_download)
        # From 2.9.22 on: a file in this machine's backup dir, named by the second it started.
        # A second Create in the same second writes the same name and replaces the first
        # archive, as os.Create does on a real controller.
        directory = self.node_dirs[node]
        self.check_space(directory)
        path = directory / f"{FILENAME_PREFIX}-{stamp}.tar.gz"
        built = archive.build(path, self.archive_size, self._archive_info(node, notes, started))
        meta = self._metadata(node, notes, started, built)
        with self.lock:
            self.checksums[str(path)] = built.checksum
        return meta

    def _archive_info(self, node: int, notes: str, started: datetime.datetime) -> dict:
        # metadata.json inside the archive: the Go struct's field names.
        return {
            "ID": f"{started:%Y%m%d-%H%M%S}.{self.controller_model.uuid}",
            "FormatVersion": 1,
            "Checksum": "",
            "ChecksumFormat": "",
            "Size": 0,
            "Stored": ZERO_TIME,
            "Started": rfc3339(started),
            "Notes": notes,
            "Environment": self.controller_model.uuid,
            "Machine": str(node),
            "Version": self.profile.juju_version,
            "Series": self.profile.series,
            "ControllerUUID": self.controller_uuid,
            "HANodes": self.ha,
        }

    def _create_stored(
        self,
        node: int,
        notes: str,
        started: datetime.datetime,
        keep_copy: bool,
        no_download: bool,
    ) -> dict:
        backup_id = f"{started:%Y%m%d-%H%M%S}.{self.controller_model.uuid}"
        if keep_copy:
            with self.lock:
                if backup_id in self.store:
                    raise RpcError(
                        f'backup metadata "{backup_id}" already exists', "already exists"
                    )
            directory = self.store_dir
        else:
            directory = self.node_dirs[node]
        self.check_space(directory)
        path = directory / f"{FILENAME_PREFIX}-{started:%Y%m%d-%H%M%S}.tar.gz"
        built = archive.build(path, self.archive_size, self._archive_info(node, notes, started))
        meta = self._metadata(node, notes, started, built)
        with self.lock:
            if keep_copy:
                meta["stored"] = rfc3339(self.now())
                self.store[backup_id] = Archive(meta, path, None, one_shot=False)
            elif not no_download:
                self.pending[backup_id] = Archive(meta, path, node, one_shot=True)
            else:
                path.unlink(missing_ok=True)
        return meta

    def stored(self, backup_id: str) -> Archive:
        with self.lock:
            found = self.store.get(backup_id)
        if found is None:
            raise RpcError(f'backup metadata "{backup_id}" not found', NOT_FOUND)
        return found

    def remove_stored(self, backup_id: str) -> None:
        with self.lock:
            found = self.store.pop(backup_id, None)
        if found is None:
            raise RpcError(f'backup metadata "{backup_id}" not found', NOT_FOUND)
        found.path.unlink(missing_ok=True)

    def add_uploaded(self, meta: dict[str, Any], path: Path) -> str:
        started = meta.get("started") or rfc3339(self.now())
        try:
            when = datetime.datetime.fromisoformat(str(started).replace("Z", "+00:00")[:19])
        except ValueError:
            when = self.now()
        backup_id = f"{when:%Y%m%d-%H%M%S}.{self.controller_model.uuid}"
        with self.lock:
            if backup_id in self.store:
                path.unlink(missing_ok=True)
                raise RpcError(f'backup metadata "{backup_id}" already exists', "already exists")
            final = self.store_dir / f"{FILENAME_PREFIX}-upload-{uuid.uuid4().hex}.tar.gz"
            path.rename(final)
            # The Go struct has every field: what the client left out is its zero value.
            full = {**_ZERO_METADATA, **meta}
            full.update(
                {
                    "id": backup_id,
                    "stored": rfc3339(self.now()),
                    "filename": str(final),
                    "ca-cert": self.ca_cert,
                    "ca-private-key": self.ca_key,
                }
            )
            self.store[backup_id] = Archive(full, final, None, one_shot=False)
        return backup_id

    def stored_backups(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {k: dict(v.metadata) for k, v in self.store.items()}

    # -- restore (2.x) -------------------------------------------------------------------

    def set_restore_status(self, status: RestoreStatus) -> None:
        with self.lock:
            before = self.restore_status
            if before is status:
                return
            if not _restore_transition_ok(before, status):
                raise RpcError(
                    f'setting status "{status.value}": invalid restore transition: '
                    f"{before.value} => {status.value}"
                )
            self.restore_status = status

    def come_back(self, outcome: RestoreStatus) -> None:
        """The restarted controller records how the restore went."""
        with self.lock:
            if self.restore_status is RestoreStatus.IN_PROGRESS:
                self.restore_status = outcome
