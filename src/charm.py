#!/usr/bin/env python3
"""The juju-backups charm: takes controller backups and keeps them on the unit's storage.

Charm concerns only: observing events, loading the typed config and the credentials secret,
turning the service's results and errors into action output and one unit status. The backup
work itself is in service.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ops
import pydantic

import lock
from catalogue import Catalogue, Entry
from config import CharmConfig, CreateBackupParams, config_error_message, parse_credentials
from service import (
    DEFAULT_AGENTS_DIR,
    AlreadyRunningError,
    BackupService,
    ControllerAccess,
    ServiceError,
    agent_conf_path,
    ca_from_agent_conf,
    endpoints_from_env,
    human_size,
)

logger = logging.getLogger(__name__)
# ops sends DEBUG records to juju debug-log, and websockets logs every frame at DEBUG: Login
# frames carry the password and 2.x Backups answers the CA private key. websockets shortens
# what it logs, which hides them today by luck only.
logging.getLogger("websockets").setLevel(logging.INFO)

STORAGE = "archives"
LOCK_NAME = ".juju-backups.lock"
# Keys that must never reach an action result, whatever the controller sent.
_CA_KEYS = frozenset({"ca-cert", "ca-private-key"})
# How the wire writes "no time" (3.x controllers never set "stored"): not worth showing.
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


class CharmSetupError(Exception):
    """The charm cannot reach the controller until the operator changes something.

    Attributes:
        blocked: the operator must act (Blocked); otherwise it should pass (Waiting).
    """

    def __init__(self, message: str, *, blocked: bool = True) -> None:
        super().__init__(message)
        self.blocked = blocked


@dataclass(frozen=True)
class Problem:
    """The last failure worth showing in the status, kept in StoredState."""

    message: str
    kind: str  # "blocked", "waiting" or "failed" (this attempt only)
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"message": self.message, "kind": self.kind, "at": self.at}


class JujuBackupsCharm(ops.CharmBase):
    """Operates backups of a Juju controller."""

    _stored = ops.StoredState()
    agents_dir: Path = DEFAULT_AGENTS_DIR

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self._stored.set_default(last_backup=None, problem=None)
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.start, self._on_start)
        framework.observe(self.on.upgrade_charm, self._on_upgrade_charm)
        framework.observe(self.on[STORAGE].storage_attached, self._on_storage_attached)
        framework.observe(self.on.config_changed, self._on_config_changed)
        framework.observe(self.on.secret_changed, self._on_secret_changed)
        framework.observe(self.on.update_status, self._on_update_status)
        framework.observe(self.on.create_backup_action, self._on_create_backup_action)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)

    def _on_install(self, _: ops.InstallEvent) -> None:
        self._clean_up_storage()

    def _on_start(self, _: ops.StartEvent) -> None:
        self._clean_up_storage()

    def _on_upgrade_charm(self, _: ops.UpgradeCharmEvent) -> None:
        self._clean_up_storage()

    def _on_storage_attached(self, _: ops.StorageAttachedEvent) -> None:
        self._clean_up_storage()

    def _on_config_changed(self, _: ops.ConfigChangedEvent) -> None:
        # The operator may just have fixed what the last failure asked for: check again.
        self._check_controller()

    def _on_secret_changed(self, event: ops.SecretChangedEvent) -> None:
        # Track the new revision, otherwise the unit keeps reading the content it first saw.
        try:
            event.secret.get_content(refresh=True)
        except ops.ModelError as error:
            logger.warning("cannot read the changed secret %s: %s", event.secret.id, error)
            return
        self._check_controller()

    def _on_update_status(self, _: ops.UpdateStatusEvent) -> None:
        problem = self._problem()
        if problem is not None and problem.kind == "waiting":
            self._check_controller()

    def _on_create_backup_action(self, event: ops.ActionEvent) -> None:
        params = event.load_params(CreateBackupParams, errors="fail")
        try:
            config = self._load_config()
            access = self._controller_access(config)
            root = self._storage_root()
        except CharmSetupError as error:
            event.fail(str(error))
            return
        keep_copy = config.keep_copy if params.keep_copy is None else params.keep_copy
        service = self._service(config, access, root, log=_progress_logger(event.log))
        try:
            entry = service.create(params.notes, keep_copy=keep_copy, trigger="manual")
        except AlreadyRunningError as error:
            # The operation holding the lock will report for itself.
            event.fail(str(error))
            return
        except ServiceError as error:
            self._remember_failure(error)
            event.fail(str(error))
            return
        self._remember_backup(entry)
        event.set_results(backup_results(entry))

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        try:
            config = self._load_config()
            self._controller_access(config)
            root = self._storage_root()
        except CharmSetupError as error:
            event.add_status(
                ops.BlockedStatus(str(error)) if error.blocked else ops.WaitingStatus(str(error))
            )
            return
        running = lock.holder(root / LOCK_NAME)
        if running:
            event.add_status(ops.MaintenanceStatus(f"running {running}"))
        problem = self._problem()
        if problem is not None and problem.kind == "blocked":
            event.add_status(ops.BlockedStatus(problem.message))
        elif problem is not None and problem.kind == "waiting":
            event.add_status(ops.WaitingStatus(problem.message))
        event.add_status(ops.ActiveStatus(self._summary(problem)))

    # -- helpers ---------------------------------------------------------------------------

    def _load_config(self) -> CharmConfig:
        try:
            return self.load_config(CharmConfig, errors="raise")
        except (ValueError, pydantic.ValidationError) as error:
            raise CharmSetupError(f"invalid config: {config_error_message(error)}") from None

    def _controller_access(self, config: CharmConfig) -> ControllerAccess:
        secret: ops.Secret | None = config.credentials
        if secret is None:
            raise CharmSetupError(_no_credentials_message(self.app.name))
        try:
            content = secret.get_content(refresh=True)
        except (ops.SecretNotFoundError, ops.ModelError):
            raise CharmSetupError(
                f"cannot read the credentials secret {secret.id}: run "
                f"`juju grant-secret {secret.id} {self.app.name}`"
            ) from None
        try:
            credentials = parse_credentials(content)
        except ValueError as error:
            raise CharmSetupError(f"{error} (juju update-secret {secret.id} ...)") from None
        endpoints = list(credentials.endpoints) or endpoints_from_env(os.environ)
        if not endpoints:
            raise CharmSetupError(
                "no controller address: JUJU_API_ADDRESSES is not set; add "
                f"endpoints=host:port,... to the credentials secret {secret.id}"
            )
        ca_cert, ca_source = credentials.ca_cert, "the ca-cert in the secret"
        if ca_cert is None:
            conf = agent_conf_path(self.unit.name, self.agents_dir)
            ca_cert, ca_source = ca_from_agent_conf(conf), f"the CA in {conf}"
            if ca_cert is None:
                raise CharmSetupError(
                    f"no controller CA: {conf} has no cacert; add ca-cert=<PEM> to the "
                    f"credentials secret {secret.id}"
                )
        return ControllerAccess(
            endpoints=endpoints,
            ca_cert=ca_cert,
            username=credentials.username,
            password=credentials.password,
            model_uuid=config.controller_model_uuid or None,
            ca_source=ca_source,
        )

    def _storage_root(self) -> Path:
        storages = self.model.storages[STORAGE]
        if not storages:
            raise CharmSetupError(
                f"waiting for the {STORAGE} storage to be attached", blocked=False
            )
        return Path(storages[0].location)

    def _service(
        self,
        config: CharmConfig,
        access: ControllerAccess,
        root: Path,
        *,
        log: Callable[[str], None] = lambda _m: None,
    ) -> BackupService:
        return BackupService(
            access,
            Catalogue(root),
            application=self.app.name,
            lock_path=root / LOCK_NAME,
            timeout=config.timeout,
            create_timeout=config.create_timeout,
            log=log,
        )

    def _clean_up_storage(self) -> None:
        try:
            root = self._storage_root()
        except CharmSetupError:
            return
        try:
            with lock.exclusive(root / LOCK_NAME, "cleaning up the archives storage"):
                for path in Catalogue(root).cleanup():
                    logger.info("removed half-written %s", path)
        except lock.Busy as busy:
            logger.info("storage clean-up skipped: %s", busy.holder)

    def _check_controller(self) -> None:
        try:
            config = self._load_config()
            access = self._controller_access(config)
            root = self._storage_root()
        except CharmSetupError:
            return  # collect-status reports it; nothing to check yet
        try:
            found = self._service(config, access, root).check()
        except ServiceError as error:
            if error.blocked or error.retryable:
                self._remember_failure(error)
            else:
                # Not about the setup: the next backup will say more, if it fails at all.
                logger.warning("controller check failed: %s", error)
            return
        logger.info("controller %s reachable at %s", found.server_version, found.endpoint)
        self._stored.problem = None

    def _remember_failure(self, error: ServiceError) -> None:
        kind = "blocked" if error.blocked else "waiting" if error.retryable else "failed"
        self._stored.problem = Problem(str(error), kind, _now()).to_dict()

    def _remember_backup(self, entry: Entry) -> None:
        self._stored.problem = None
        self._stored.last_backup = {
            "id": entry.id,
            "at": _format_time(entry.when),
            "size": entry.size,
        }

    def _problem(self) -> Problem | None:
        stored: Any = self._stored.problem
        if not stored:
            return None
        return Problem(str(stored["message"]), str(stored["kind"]), str(stored["at"]))

    def _summary(self, problem: Problem | None) -> str:
        last: Any = self._stored.last_backup
        text = (
            f"last backup {last['id']} at {last['at']} ({human_size(int(last['size']))})"
            if last
            else "ready; no backup taken yet (run create-backup)"
        )
        if problem is not None and problem.kind == "failed":
            text += f"; the attempt at {problem.at} failed (see juju show-operation)"
        return text


def backup_results(entry: Entry) -> dict[str, Any]:
    """The create-backup action's results: Juju-legal keys, no CA material.

    Args:
        entry: the stored backup.

    Returns:
        A nested mapping of strings.
    """
    metadata = {
        key: str(value)
        for key, value in entry.metadata.items()
        if key not in _CA_KEYS and value not in (None, "", _GO_ZERO_TIME)
    }
    return {
        "backup-id": entry.id,
        "archive": str(entry.archive),
        "size": str(entry.size),
        "size-human": human_size(entry.size),
        "stored-at": _format_time(entry.stored_at),
        "downloaded-from": entry.source,
        "metadata": metadata,
    }


def _progress_logger(log: Callable[[str], None]) -> Callable[[str], None]:
    def progress(message: str) -> None:
        try:
            log(message)
        except ops.ModelError:
            # action-log can fail if Juju has already given up on the action; the backup goes on.
            logger.debug("could not log action progress: %s", message)

    return progress


def _no_credentials_message(app: str) -> str:
    return (
        "no credentials: juju add-user backups && juju grant backups superuser && "
        "juju add-secret backups-account username=backups password=<password> && "
        f"juju grant-secret backups-account {app} && "
        f"juju config {app} credentials=secret:<id>"
    )


def _now() -> str:
    return _format_time(datetime.now(timezone.utc))


def _format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


if __name__ == "__main__":  # pragma: nocover
    ops.main(JujuBackupsCharm)
