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
from charms.juju_backups.v0.backups import (
    BackupRequest,
    BackupRequestedEvent,
    BackupsProvider,
    LastBackup,
)

import automation
import lock
import notes
import reports
import retention
import schedule
import scheduling
from catalogue import Catalogue, Entry
from config import (
    CharmConfig,
    CreateBackupParams,
    ListBackupsParams,
    PruneBackupsParams,
    RemoveBackupsParams,
    RestoreParams,
    ShowBackupParams,
    config_error_message,
    parse_credentials,
)
from inventory import parse_ids
from restore import STATE_FILE as RESTORE_STATE
from restore import RestoreService, read_state
from service import (
    DEFAULT_AGENTS_DIR,
    AlreadyRunningError,
    BackupService,
    ControllerAccess,
    ControllerFacts,
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
RELATION = "backups"
LOCK_NAME = ".juju-backups.lock"


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


class ScheduledBackupEvent(ops.EventBase):
    """The leader's cron entry is due: juju-exec dispatched hooks/scheduled-backup."""


class JujuBackupsCharmEvents(ops.CharmEvents):
    """Juju's events, and the one the charm's cron entry dispatches."""

    scheduled_backup = ops.EventSource(ScheduledBackupEvent)


class JujuBackupsCharm(ops.CharmBase):
    """Operates backups of a Juju controller."""

    on = JujuBackupsCharmEvents()
    _stored = ops.StoredState()
    agents_dir: Path = DEFAULT_AGENTS_DIR
    cron_dir: Path = Path("/etc/cron.d")

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self._stored.set_default(last_backup=None, problem=None, scheduling=None)
        self.backups_relation = BackupsProvider(
            self, RELATION, last_backup=self._last_backup_summary
        )
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.start, self._on_start)
        framework.observe(self.on.upgrade_charm, self._on_upgrade_charm)
        framework.observe(self.on[STORAGE].storage_attached, self._on_storage_attached)
        framework.observe(self.on.config_changed, self._on_config_changed)
        framework.observe(self.on.leader_elected, self._on_leader_elected)
        framework.observe(self.on.leader_settings_changed, self._on_leader_settings_changed)
        framework.observe(self.on.secret_changed, self._on_secret_changed)
        framework.observe(self.on.update_status, self._on_update_status)
        framework.observe(self.on.stop, self._on_stop)
        framework.observe(self.on.remove, self._on_remove)
        framework.observe(self.on.scheduled_backup, self._on_scheduled_backup)
        framework.observe(self.backups_relation.on.backup_requested, self._on_backup_requested)
        framework.observe(self.on.create_backup_action, self._on_create_backup_action)
        framework.observe(self.on.prune_backups_action, self._on_prune_backups_action)
        framework.observe(self.on.list_backups_action, self._on_list_backups_action)
        framework.observe(self.on.show_backup_action, self._on_show_backup_action)
        framework.observe(self.on.remove_backups_action, self._on_remove_backups_action)
        framework.observe(self.on.restore_action, self._on_restore_action)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)

    def _on_install(self, _: ops.InstallEvent) -> None:
        self._clean_up_storage()

    def _on_start(self, _: ops.StartEvent) -> None:
        self._clean_up_storage()
        self._update_cron()

    def _on_upgrade_charm(self, _: ops.UpgradeCharmEvent) -> None:
        self._clean_up_storage()
        # The entry names the charm directory and the dispatch line: rewrite it as this
        # version writes it.
        self._update_cron()

    def _on_storage_attached(self, _: ops.StorageAttachedEvent) -> None:
        self._clean_up_storage()

    def _on_config_changed(self, _: ops.ConfigChangedEvent) -> None:
        self._update_cron()
        self._apply_retention()
        # The operator may just have fixed what the last failure asked for: check again.
        self._check_controller()
        self._serve_backup_requests()

    def _on_leader_elected(self, _: ops.LeaderElectedEvent) -> None:
        self._update_cron()

    def _on_leader_settings_changed(self, _: ops.LeaderSettingsChangedEvent) -> None:
        # Only non-leaders see this: the entry goes with leadership.
        self._update_cron()

    def _on_secret_changed(self, event: ops.SecretChangedEvent) -> None:
        # Track the new revision, otherwise the unit keeps reading the content it first saw.
        try:
            event.secret.get_content(refresh=True)
        except ops.ModelError as error:
            logger.warning("cannot read the changed secret %s: %s", event.secret.id, error)
            return
        self._check_controller()
        self._serve_backup_requests()

    def _on_update_status(self, _: ops.UpdateStatusEvent) -> None:
        self._finish_interrupted_restore()
        problem = self._problem()
        if problem is not None and problem.kind == "waiting":
            self._check_controller()
        # Juju has no event for losing leadership (leader-settings-changed may never come):
        # a former leader drops its entry here at the latest.
        self._update_cron()
        self._serve_backup_requests()

    def _on_stop(self, _: ops.StopEvent) -> None:
        self._remove_cron()

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        self._remove_cron()

    def _on_scheduled_backup(self, _: ScheduledBackupEvent) -> None:
        if not self.unit.is_leader():
            logger.info("scheduled backup skipped: only the leader takes scheduled backups")
            self._update_cron()
            return
        started = _utcnow()
        self._record_scheduled_run(started)
        try:
            config, access, root = self._setup_for_backups()
        except CharmSetupError as error:
            logger.error("scheduled backup not taken: %s", error)
            self._record_scheduled_failure(started, str(error))
            return
        service = self._service(config, access, root)
        try:
            entry = service.create(
                self._notes_maker(config, "scheduled"),
                keep_copy=config.keep_copy,
                trigger="scheduled",
            )
        except AlreadyRunningError as error:
            logger.info("scheduled backup skipped: %s", error)
            return
        except ServiceError as error:
            logger.error("scheduled backup failed: %s", error)
            self._record_scheduled_failure(started, str(error))
            if error.blocked or error.retryable:
                self._remember_failure(error)
            return
        logger.info("scheduled backup %s stored (%s)", entry.id, human_size(entry.size))
        self._record_scheduled_success()
        self._after_backup(entry, config, root, publish=True)

    def _on_backup_requested(self, _: BackupRequestedEvent) -> None:
        self._serve_backup_requests()

    def _on_create_backup_action(self, event: ops.ActionEvent) -> None:
        params = event.load_params(CreateBackupParams, errors="fail")
        try:
            config, access, root = self._setup_for_backups()
        except CharmSetupError as error:
            event.fail(str(error))
            return
        keep_copy = config.keep_copy if params.keep_copy is None else params.keep_copy
        service = self._service(config, access, root, log=_progress_logger(event.log))
        # Notes given with the action say more than the template would.
        backup_notes = (
            notes.clean(params.notes) if params.notes else self._notes_maker(config, "manual")
        )
        try:
            entry = service.create(backup_notes, keep_copy=keep_copy, trigger="manual")
        except AlreadyRunningError as error:
            # The operation holding the lock will report for itself.
            event.fail(str(error))
            return
        except ServiceError as error:
            self._remember_failure(error)
            event.fail(str(error))
            return
        event.set_results(reports.backup_results(entry))
        self._after_backup(entry, config, root, publish=True)

    def _on_prune_backups_action(self, event: ops.ActionEvent) -> None:
        params = event.load_params(PruneBackupsParams, errors="fail")
        try:
            config = self._load_config()
            root = self._storage_root()
        except CharmSetupError as error:
            event.fail(str(error))
            return
        try:
            chosen = self._prune(config, root, dry_run=params.dry_run)
            total = len(self._own_archives(root))
        except lock.Busy as busy:
            event.fail(
                f"another operation is running on this unit: {busy.holder}; run prune-backups "
                "again when it has finished"
            )
            return
        except OSError as error:
            event.fail(f"cannot read the {STORAGE} storage: {error}")
            return
        verb = "would remove" if params.dry_run else "removed"
        for entry in chosen:
            _progress_logger(event.log)(f"{verb} {reports.describe_archive(entry)}")
        policy = retention.describe(
            application=self.app.name,
            keep_count=config.retention_count,
            keep_days=config.retention_days,
        )
        event.set_results(
            reports.prune_results(chosen, dry_run=params.dry_run, policy=policy, remaining=total)
        )

    def _on_list_backups_action(self, event: ops.ActionEvent) -> None:
        params = event.load_params(ListBackupsParams, errors="fail")
        try:
            service = self._service(*self._setup_for_backups(), log=_progress_logger(event.log))
            listing = service.list_backups()
        except (CharmSetupError, ServiceError) as error:
            event.fail(str(error))
            return
        event.set_results(reports.listing_results(listing, params.format))

    def _on_show_backup_action(self, event: ops.ActionEvent) -> None:
        params = event.load_params(ShowBackupParams, errors="fail")
        try:
            service = self._service(*self._setup_for_backups(), log=_progress_logger(event.log))
            details = service.show_backup(params.backup_id.strip())
        except (CharmSetupError, ServiceError) as error:
            event.fail(str(error))
            return
        event.set_results(reports.details_results(details))

    def _on_remove_backups_action(self, event: ops.ActionEvent) -> None:
        params = event.load_params(RemoveBackupsParams, errors="fail")
        try:
            service = self._service(*self._setup_for_backups(), log=_progress_logger(event.log))
            removal = service.remove_backups(parse_ids(params.backup_ids))
        except (CharmSetupError, ServiceError) as error:
            event.fail(str(error))
            return
        event.set_results(reports.removal_results(removal))
        if removal.failed:
            # The results still say what was removed; failing makes the rest hard to miss.
            event.fail(reports.removal_failure(removal))

    def _on_restore_action(self, event: ops.ActionEvent) -> None:
        params = event.load_params(RestoreParams, errors="fail")
        backup_id, unit = params.backup_id.strip(), self.unit.name
        try:
            config, access, root = self._setup_for_backups()
            service = self._restore_service(
                config, access, root, params.timeout, log=_progress_logger(event.log)
            )
            if params.confirm:
                results = reports.outcome_results(service.restore(backup_id, unit=unit))
            else:
                plan = service.check_restore(backup_id, unit=unit)
                results = reports.plan_results(plan, timeout=params.timeout, unit=unit)
        except (CharmSetupError, ServiceError) as error:
            event.fail(str(error))
            return
        event.set_results(results)

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
        self._add_restore_status(event, root, running=bool(running))
        problem = self._problem()
        if problem is not None and problem.kind == "blocked":
            event.add_status(ops.BlockedStatus(problem.message))
        elif problem is not None and problem.kind == "waiting":
            event.add_status(ops.WaitingStatus(problem.message))
        if self.unit.is_leader() and config.schedule and not self.cron_dir.is_dir():
            event.add_status(
                ops.BlockedStatus(
                    f"cannot schedule backups: {self.cron_dir} does not exist; install cron "
                    "(apt install cron) or set schedule to an empty string"
                )
            )
        failed_at = problem.at if problem is not None and problem.kind == "failed" else None
        summary = reports.status_summary(self._stored.last_backup, failed_at)
        event.add_status(ops.ActiveStatus(summary + self._schedule_summary(config)))

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

    def _restore_service(
        self,
        config: CharmConfig,
        access: ControllerAccess,
        root: Path,
        restore_timeout: float,
        *,
        log: Callable[[str], None] = lambda _m: None,
    ) -> RestoreService:
        return RestoreService(
            access,
            Catalogue(root),
            application=self.app.name,
            lock_path=root / LOCK_NAME,
            state_path=root / RESTORE_STATE,
            timeout=config.timeout,
            restore_timeout=restore_timeout,
            log=log,
        )

    def _finish_interrupted_restore(self) -> None:
        """Finish, or report, a restore that a hook cut off midway left on the storage."""
        try:
            root = self._storage_root()
            if not (root / RESTORE_STATE).exists():
                return
            config, access, root = self._setup_for_backups()
        except CharmSetupError:
            return  # collect-status reports what is missing; the restore waits for it
        # A hook must not wait long: what does not finish now is tried again next time.
        service = self._restore_service(config, access, root, config.timeout)
        try:
            outcome = service.resume()
        except ServiceError as error:
            logger.warning("interrupted restore: %s", error)
            if error.blocked:
                self._remember_failure(error)
            return
        if outcome is not None:
            logger.info("interrupted restore: %s", reports.outcome_results(outcome)["result"])

    def _add_restore_status(
        self, event: ops.CollectStatusEvent, root: Path, *, running: bool
    ) -> None:
        try:
            interrupted = read_state(root / RESTORE_STATE)
        except ServiceError as error:
            event.add_status(ops.BlockedStatus(str(error)))
            return
        if interrupted is not None and not running:
            event.add_status(
                ops.WaitingStatus(
                    f"{interrupted.describe()}: update-status finishes it, or run restore "
                    f"backup-id={interrupted.backup_id} confirm=true"
                )
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
            config, access, root = self._setup_for_backups()
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

    def _setup_for_backups(self) -> tuple[CharmConfig, ControllerAccess, Path]:
        config = self._load_config()
        return config, self._controller_access(config), self._storage_root()

    def _serve_backup_requests(self) -> None:
        """Run the backups related applications asked for, one at a time, oldest first.

        The queue is the relation data itself, so this is called again whenever the charm may
        have become able to run backups (credentials fixed, update-status, new leader).
        """
        if not self.backups_relation.pending_requests():
            return
        try:
            config, access, root = self._setup_for_backups()
        except CharmSetupError as error:
            logger.info("backup requests wait: %s", error)
            return
        served: set[tuple[int, str]] = set()
        while True:
            problem = self._problem()
            if problem is not None and problem.kind in ("blocked", "waiting"):
                # Known to fail now: the requests wait for the fix (or update-status).
                logger.info("backup requests wait: %s", problem.message)
                return
            queue = [
                r
                for r in self.backups_relation.pending_requests()
                if (r.relation_id, r.request_id) not in served
            ]
            if not queue:
                return
            request = queue[0]
            served.add((request.relation_id, request.request_id))
            running = lock.holder(root / LOCK_NAME)
            if running:
                logger.info("backup requests wait for %s", running)
                return
            if not self.backups_relation.mark_running(request):
                continue
            if not self._serve_one(request, config, access, root):
                return

    def _serve_one(
        self, request: BackupRequest, config: CharmConfig, access: ControllerAccess, root: Path
    ) -> bool:
        """Take the backup one request asked for; False when the rest of the queue must wait."""
        logger.info(
            "backup requested by %s (request %s%s)",
            request.app_name,
            request.request_id,
            f", reason: {request.reason}" if request.reason else "",
        )
        service = self._service(config, access, root)
        try:
            entry = service.create(
                self._notes_maker(
                    config, request.app_name, extra=automation.requested_notes(request)
                ),
                keep_copy=config.keep_copy,
                trigger=request.app_name,
            )
        except AlreadyRunningError as error:
            # Left `running`: the next call offers it again, and it runs then.
            logger.info("backup request %s waits: %s", request.request_id, error)
            return False
        except ServiceError as error:
            logger.error("backup requested by %s failed: %s", request.app_name, error)
            self.backups_relation.fail(request, automation.relation_error(error))
            if error.blocked or error.retryable:
                self._remember_failure(error)
            return True
        self.backups_relation.complete(
            request,
            entry.id,
            started_at=entry.started,
            finished_at=entry.stored_at,
            size=entry.size,
        )
        self._after_backup(entry, config, root, publish=False)
        return True

    def _after_backup(
        self, entry: Entry, config: CharmConfig, root: Path, *, publish: bool
    ) -> None:
        self._remember_backup(entry)
        if publish:
            # complete() publishes the backups relations asked for; these are the others.
            self.backups_relation.publish_last_backup(automation.last_backup_of(entry))
        try:
            self._log_pruned(self._prune(config, root))
        except (lock.Busy, OSError) as error:
            logger.warning("retention not applied after backup %s: %s", entry.id, error)

    def _apply_retention(self) -> None:
        try:
            config = self._load_config()
            root = self._storage_root()
        except CharmSetupError:
            return
        try:
            self._log_pruned(self._prune(config, root))
        except (lock.Busy, OSError) as error:
            logger.warning("retention not applied: %s", error)

    def _prune(self, config: CharmConfig, root: Path, *, dry_run: bool = False) -> list[Entry]:
        description = "prune-backups (dry run)" if dry_run else "pruning archives"
        with lock.exclusive(root / LOCK_NAME, description):
            return retention.prune(
                Catalogue(root),
                application=self.app.name,
                keep_count=config.retention_count,
                keep_days=config.retention_days,
                now=_utcnow(),
                dry_run=dry_run,
            )

    def _log_pruned(self, removed: list[Entry]) -> None:
        for entry in removed:
            logger.info("retention removed %s", reports.describe_archive(entry))

    def _own_archives(self, root: Path) -> list[Entry]:
        return [e for e in Catalogue(root).list() if e.application == self.app.name]

    def _last_backup_summary(self) -> LastBackup | None:
        """The newest archive of this application on this unit, for a new relation."""
        try:
            own = self._own_archives(self._storage_root())
        except (CharmSetupError, OSError):
            return None
        return automation.last_backup_of(own[0]) if own else None

    def _notes_maker(
        self, config: CharmConfig, trigger: str, *, extra: str = ""
    ) -> Callable[[ControllerFacts], str]:
        """The notes of a backup, filled in once the service knows the controller."""
        return notes.maker(
            config.notes_template,
            trigger=trigger,
            unit=self.unit.name,
            app=self.app.name,
            model=self.model.name,
            extra=extra,
        )

    # -- the schedule -----------------------------------------------------------------------

    def _cron_path(self) -> Path:
        return self.cron_dir / f"juju-backups-{self.app.name}"

    def _update_cron(self) -> None:
        """Make this unit's cron entry what its leadership and the schedule option say."""
        if not self.unit.is_leader():
            self._remove_cron()
            return
        try:
            config = self._load_config()
        except CharmSetupError:
            # Left as it is: the runs it starts fail and are shown with the reason, and
            # scheduling resumes as it was once the config is fixed.
            return
        if not config.schedule:
            self._remove_cron()
            return
        if not self.cron_dir.is_dir():
            logger.warning("%s does not exist: backups cannot be scheduled", self.cron_dir)
            return
        path = self._cron_path()
        content = schedule.cron_entry(config.schedule, self.unit.name, self.charm_dir)
        if _read_text(path) != content:
            schedule.install(path, content)
            logger.info("scheduled backups %s: wrote %s", config.schedule, path)
        state = self._scheduling()
        updated = scheduling.scheduled(state, config.schedule, _utcnow())
        if updated != state:
            self._stored.scheduling = updated.to_dict()

    def _remove_cron(self) -> None:
        path = self._cron_path()
        if schedule.remove(path):
            logger.info("removed %s: this unit takes no scheduled backups", path)
        self._stored.scheduling = None

    def _scheduling(self) -> scheduling.Scheduling | None:
        stored: Any = self._stored.scheduling
        return scheduling.Scheduling.from_dict(stored) if stored else None

    def _record_scheduled_run(self, started: datetime) -> None:
        self._stored.scheduling = scheduling.record_run(self._scheduling(), started).to_dict()

    def _record_scheduled_failure(self, started: datetime, reason: str) -> None:
        failed = scheduling.record_failure(self._scheduling(), started, reason)
        self._stored.scheduling = failed.to_dict()

    def _record_scheduled_success(self) -> None:
        cleared = scheduling.record_success(self._scheduling())
        if cleared is not None:
            self._stored.scheduling = cleared.to_dict()

    def _schedule_summary(self, config: CharmConfig) -> str:
        """The schedule's part of the Active status (leader only: others schedule nothing)."""
        if not self.unit.is_leader():
            return ""
        return scheduling.summary(config.schedule, self._scheduling(), _utcnow())

    def _remember_backup(self, entry: Entry) -> None:
        self._stored.problem = None
        self._stored.last_backup = reports.last_backup_record(entry)

    def _problem(self) -> Problem | None:
        stored: Any = self._stored.problem
        if not stored:
            return None
        return Problem(str(stored["message"]), str(stored["kind"]), str(stored["at"]))


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
    return scheduling.format_time(_utcnow())


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


if __name__ == "__main__":  # pragma: nocover
    ops.main(JujuBackupsCharm)
