#!/usr/bin/env python3
# Copyright 2025 The juju-backups charm authors
# See LICENSE file for licensing details.

"""A test charm that asks juju-backups for backups through charms.juju_backups.v0.backups."""

from __future__ import annotations

import logging
from typing import Any

import ops
from charms.juju_backups.v0.backups import (
    BackupCompletedEvent,
    BackupFailedEvent,
    BackupResult,
    BackupsError,
    BackupsRequirer,
)

logger = logging.getLogger(__name__)


class BackupsRequirerCharm(ops.CharmBase):
    """Asks for a backup on `request-backup`; reports the answer in its status."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.backups = BackupsRequirer(self, relation_name="backups")
        framework.observe(self.on.request_backup_action, self._on_request_backup_action)
        framework.observe(self.on.get_result_action, self._on_get_result_action)
        framework.observe(self.backups.on.backup_completed, self._on_backup_completed)
        framework.observe(self.backups.on.backup_failed, self._on_backup_failed)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)

    def _on_request_backup_action(self, event: ops.ActionEvent) -> None:
        try:
            request_id = self.backups.request_backup(
                notes=event.params.get("notes", ""),
                reason=event.params.get("reason", ""),
                request_id=event.params.get("request-id") or None,
            )
        except BackupsError as e:
            event.fail(str(e))
            return
        event.set_results({"request-id": request_id})

    def _on_get_result_action(self, event: ops.ActionEvent) -> None:
        try:
            result = self.backups.result(event.params.get("request-id") or None)
        except BackupsError as e:
            event.fail(str(e))
            return
        if result is None:
            event.fail("no answer to that request (yet)")
            return
        event.set_results(_action_results(result))

    def _on_backup_completed(self, event: BackupCompletedEvent) -> None:
        logger.info(
            "backup %s completed for request %s (%s bytes)",
            event.backup_id,
            event.request_id,
            event.size,
        )

    def _on_backup_failed(self, event: BackupFailedEvent) -> None:
        logger.warning("backup request %s failed: %s", event.request_id, event.error)

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        relations = self.model.relations["backups"]
        if not relations:
            event.add_status(ops.BlockedStatus("relate to juju-backups"))
            return
        relation = relations[0]  # the endpoint's limit is 1
        if self.unit.is_leader() and (request_id := self.backups.current_request_id(relation)):
            result = self.backups.result(request_id, relation=relation)
            if result is None:
                event.add_status(ops.WaitingStatus(f"waiting for backup {request_id}"))
                return
            if result.status == "failed":
                event.add_status(ops.ActiveStatus(f"backup request failed: {result.error}"))
                return
            if result.status != "completed":
                event.add_status(ops.WaitingStatus(f"backup {request_id} {result.status}"))
                return
        last = self.backups.last_backup
        if last is None:
            event.add_status(ops.ActiveStatus("no backup yet"))
        else:
            event.add_status(ops.ActiveStatus(f"last backup {last.id}"))


def _action_results(result: BackupResult) -> dict[str, Any]:
    return {
        key: str(value) for key, value in result.model_dump(mode="json", by_alias=True).items()
    }


if __name__ == "__main__":  # pragma: nocover
    ops.main(BackupsRequirerCharm)
