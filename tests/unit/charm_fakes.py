"""What the unit tests of the charm share: the context, states, a fake service.

The fake replaces service.BackupService only: the charm's config, secrets, catalogue, lock,
cron entry and relation library are the real ones.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from ops import testing

import charm as charm_module
import lock
import service
from catalogue import Catalogue, Entry
from charm import JujuBackupsCharm

ROOT = Path(__file__).resolve().parents[2]
APP = "juju-backups"
CONTROLLER_UUID = "0e3a6b2c-1c47-4e1c-8d0e-5f6a7b8c9d0e"
CONTROLLER_VERSION = "3.6.27"
MODEL_UUID = "6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
PASSWORD = "s3cret-Pa55"
ENDPOINTS = "10.0.0.1:17070,10.0.0.2:17070"
CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUQ2FUZXN0Q0Fmb3JqdWp1YmFja3Vwc0NoYXJtMAoGCCqG\n"
    "-----END CERTIFICATE-----\n"
)
UTC = timezone.utc


def charm_context(**kwargs: Any) -> testing.Context[JujuBackupsCharm]:
    # ops[testing] ignores actions.yaml and config.yaml beside a full charmcraft.yaml.
    return testing.Context(
        JujuBackupsCharm,
        meta=yaml.safe_load((ROOT / "charmcraft.yaml").read_text()),
        actions=yaml.safe_load((ROOT / "actions.yaml").read_text()),
        config=yaml.safe_load((ROOT / "config.yaml").read_text()),
        **kwargs,
    )


def credentials_secret() -> testing.Secret:
    return testing.Secret(
        {"username": "backups", "password": PASSWORD, "endpoints": ENDPOINTS, "ca-cert": CA}
    )


def ready_state(
    *,
    leader: bool = True,
    relations: list[testing.Relation] | None = None,
    stored: dict[str, Any] | None = None,
    **config: Any,
) -> testing.State:
    """A unit with credentials and storage; `config` uses the options' Juju names."""
    secret = credentials_secret()
    return testing.State(
        config={"credentials": secret.id, **{k.replace("_", "-"): v for k, v in config.items()}},
        secrets=[secret],
        storages=[testing.Storage("archives")],
        relations=relations or [],
        leader=leader,
        stored_states=[testing.StoredState(owner_path="JujuBackupsCharm", content=stored)]
        if stored
        else [],
    )


def storage_root(ctx: testing.Context[JujuBackupsCharm], state: testing.State) -> Path:
    (storage,) = (s for s in state.storages if s.name == "archives")
    root = storage.get_filesystem(ctx)
    root.mkdir(parents=True, exist_ok=True)
    return root


def add_archive(
    root: Path, backup_id: str, started: datetime, *, application: str = APP, size: int = 10
) -> Entry:
    """An archive already on the storage, as an earlier backup left it."""
    catalogue = Catalogue(root)
    catalogue.archive_path(backup_id).write_bytes(b"x" * size)
    metadata = {"id": backup_id, "started": started.isoformat(), "size": size, "notes": ""}
    return catalogue.add(
        backup_id, metadata, application=application, trigger="scheduled", source="10.0.0.1"
    )


def cron_file() -> Path:
    # tests/unit/conftest.py gives every test its own cron directory.
    return JujuBackupsCharm.cron_dir / f"juju-backups-{APP}"


def decode(databag: dict[str, str]) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in databag.items()}


@dataclasses.dataclass(frozen=True)
class Call:
    notes: str
    keep_copy: bool
    trigger: str


@dataclasses.dataclass
class Behaviour:
    """Programs the fake service and records what the charm asked of it."""

    # Raised by the next creates, one each; once they are used up, `create_error` (if set) is
    # raised by every create.
    errors: list[Exception] = dataclasses.field(default_factory=list)
    create_error: Exception | None = None
    calls: list[Call] = dataclasses.field(default_factory=list)
    # Run while the backup is "in progress" (inside the lock), e.g. to change the world.
    during_create: Callable[[], None] | None = None
    checks: int = 0
    check_error: Exception | None = None
    # "create" and "check", in the order the charm asked for them.
    requests: list[str] = dataclasses.field(default_factory=list)
    # Every service the charm built, with the access and settings it was given.
    services: list[FakeService] = dataclasses.field(default_factory=list)
    # When every backup starts, so all have this one id; None: distinct, increasing times.
    started: datetime | None = None


@dataclasses.dataclass
class FakeService:
    """Stands in for service.BackupService: takes the real lock, writes a real archive."""

    access: service.ControllerAccess
    catalogue: Catalogue
    application: str
    lock_path: Path
    timeout: float
    create_timeout: float
    log: Callable[[str], None]
    behaviour: Behaviour

    def create(
        self,
        notes: str | Callable[[service.ControllerFacts], str],
        *,
        keep_copy: bool = False,
        trigger: str = "manual",
    ) -> Entry:
        try:
            with lock.exclusive(self.lock_path, f"create-backup ({trigger})"):
                return self._create(notes, keep_copy=keep_copy, trigger=trigger)
        except lock.Busy as busy:
            raise service.AlreadyRunningError(
                f"another backup operation is running on this unit: {busy.holder}"
            ) from None

    def _create(
        self,
        notes: str | Callable[[service.ControllerFacts], str],
        *,
        keep_copy: bool,
        trigger: str,
    ) -> Entry:
        if not isinstance(notes, str):  # the notes template, filled in after the login
            notes = notes(service.ControllerFacts(CONTROLLER_UUID, CONTROLLER_VERSION))
        self.behaviour.calls.append(Call(notes, keep_copy, trigger))
        self.behaviour.requests.append("create")
        self.log(f"creating backup on controller {CONTROLLER_VERSION} at 10.0.0.1:17070")
        if self.behaviour.during_create is not None:
            self.behaviour.during_create()
        if self.behaviour.errors:
            raise self.behaviour.errors.pop(0)
        if self.behaviour.create_error is not None:
            raise self.behaviour.create_error
        started = self.behaviour.started
        if started is None:
            # Distinct, increasing ids and start times, like a controller's.
            number = len(self.behaviour.calls)
            started = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=number)
        backup_id = f"juju-backup-{started:%Y%m%d-%H%M%S}.tar.gz"
        self.catalogue.archive_path(backup_id).write_bytes(b"archive bytes")
        self.log("downloading 100%")
        self.log("checksum verified")
        # What a controller's metadata holds, "unknown" values (None, Go's zero time) included.
        metadata = {
            "id": backup_id,
            "checksum": "abc=",
            "checksum-format": "SHA-1, base64 encoded",
            "size": 13,
            "started": f"{started:%Y-%m-%dT%H:%M:%SZ}",
            "stored": "0001-01-01T00:00:00Z",
            "notes": notes,
            "version": CONTROLLER_VERSION,
            "series": None,
            "filename": f"/tmp/{backup_id}",
        }
        return self.catalogue.add(
            backup_id, metadata, application=self.application, trigger=trigger, source="10.0.0.1"
        )

    def check(self) -> service.ControllerCheck:
        self.behaviour.checks += 1
        self.behaviour.requests.append("check")
        if self.behaviour.check_error is not None:
            raise self.behaviour.check_error
        return service.ControllerCheck(CONTROLLER_VERSION, "10.0.0.1:17070", MODEL_UUID)


def install_fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Behaviour:
    behaviour = Behaviour()

    def build(access: service.ControllerAccess, catalogue: Catalogue, **kwargs: Any) -> Any:
        made = FakeService(access, catalogue, behaviour=behaviour, **kwargs)
        behaviour.services.append(made)
        return made

    monkeypatch.setattr(charm_module, "BackupService", build)
    monkeypatch.setattr(JujuBackupsCharm, "agents_dir", tmp_path / "agents")
    monkeypatch.delenv("JUJU_API_ADDRESSES", raising=False)
    return behaviour
