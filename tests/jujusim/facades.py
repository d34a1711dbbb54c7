"""The facades a logged-in connection can call: Backups, ModelManager, Pinger."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import (
    NOT_FOUND,
    NOT_IMPLEMENTED,
    NOT_SUPPORTED,
    DropConnection,
    RpcError,
    perm_denied,
)
from .profiles import Generation
from .schema import FacadeSchema
from .state import RestoreStatus, rfc3339

if TYPE_CHECKING:
    from .rpc import Session

CONTROLLER_MODEL_ONLY = (
    "backups are only supported from the controller model\n"
    "Use juju switch to select the controller model"
)
NOT_IN_DATABASE = "backups stored in the controller database not supported"
JUJU_RESTORE = "restore is now provided by the standalone juju-restore utility"


@dataclass
class Call:
    session: Session
    version: int
    method: str
    params: dict[str, Any]
    schema: FacadeSchema


class Pinger:
    @staticmethod
    async def call(call: Call) -> dict[str, Any]:
        return {}


class ModelManager:
    @staticmethod
    async def call(call: Call) -> dict[str, Any]:
        # ListModels is the only method the schemas here carry.
        session = call.session
        ctl = session.ctl
        assert session.user is not None
        tag = call.params.get("tag") or ""
        kind, _, name = str(tag).partition("-")
        if kind != "user" or not name:
            raise RpcError(f'"{tag}" is not a valid user tag')
        if name != session.user.name and not session.user.superuser:
            raise perm_denied()
        with ctl.lock:
            target = ctl.users.get(name)
        if target is None or not (target.superuser or target.model_access):
            return {"user-models": []}
        now = rfc3339(ctl.now())
        models = [
            {
                "model": {
                    "name": m.name,
                    "uuid": m.uuid,
                    "type": ctl.model_type(),
                    "owner-tag": f"user-{m.owner}",
                    "qualifier": m.owner,
                },
                "last-connection": now,
            }
            for m in (ctl.controller_model, ctl.default_model)
        ]
        return {"user-models": models}


class Backups:
    @staticmethod
    async def call(call: Call) -> dict[str, Any]:
        session = call.session
        ctl = session.ctl
        user = session.user
        assert user is not None
        # The facade's constructor refuses in this order (apiserver/facades/client/backups).
        if not user.superuser:
            raise perm_denied()
        if session.model is None or session.model.uuid != ctl.controller_model.uuid:
            raise RpcError(CONTROLLER_MODEL_ONLY)
        if ctl.kubernetes:
            raise RpcError("backups on kubernetes controllers not supported", NOT_SUPPORTED)
        generation = ctl.profile.generation
        stored = generation in (Generation.STORED_ONLY, Generation.STORED)
        method = call.method
        if method == "Create":
            return await Backups._create(call)
        if not stored:
            if method == "Restore":
                raise RpcError(JUJU_RESTORE)
            # Info, List, Remove from 2.9.22 on (later releases do not have them at all).
            raise RpcError(NOT_IN_DATABASE, NOT_SUPPORTED)
        return await _STORED_METHODS[method](call)

    @staticmethod
    async def _create(call: Call) -> dict[str, Any]:
        ctl = call.session.ctl
        if ctl.profile.generation is Generation.DQLITE:
            raise RpcError("Dqlite-based backups not implemented", NOT_IMPLEMENTED)
        notes = call.params.get("notes") or ""
        if call.version == 1:
            # v1 clients had no choice: the archive always went to the controller's store.
            keep_copy, no_download = True, True
        elif ctl.profile.generation is Generation.STORED:
            keep_copy = bool(call.params.get("keep-copy"))
            no_download = bool(call.params.get("no-download"))
        else:
            keep_copy, no_download = False, False
        return await asyncio.to_thread(
            ctl.create,
            call.session.node.index,
            str(notes),
            keep_copy=keep_copy,
            no_download=no_download,
        )

    @staticmethod
    async def _info(call: Call) -> dict[str, Any]:
        return call.session.ctl.stored(str(call.params.get("id") or "")).metadata

    @staticmethod
    async def _list(call: Call) -> dict[str, Any]:
        metas = call.session.ctl.stored_backups().values()
        return {"list": sorted(metas, key=lambda m: m["started"])}

    @staticmethod
    async def _remove(call: Call) -> dict[str, Any]:
        ctl = call.session.ctl
        if call.version == 1:
            ctl.remove_stored(str(call.params.get("id") or ""))
            return {}
        results: list[dict[str, Any]] = []
        for backup_id in call.params.get("ids") or []:
            try:
                ctl.remove_stored(str(backup_id))
                results.append({})
            except RpcError as err:
                results.append({"error": {"message": err.message, "code": err.code}})
        return {"results": results}

    @staticmethod
    async def _prepare_restore(call: Call) -> dict[str, Any]:
        call.session.ctl.set_restore_status(RestoreStatus.PENDING)
        return {}

    @staticmethod
    async def _restore(call: Call) -> dict[str, Any]:
        session = call.session
        ctl = session.ctl
        backup_id = str(call.params.get("backup-id") or "")
        try:
            ctl.set_restore_status(RestoreStatus.IN_PROGRESS)
        except RpcError as err:
            raise RpcError(f'cannot set the server to "RESTORING" mode: {err.message}') from None
        try:
            ctl.stored(backup_id)
        except RpcError as err:
            ctl.set_restore_status(RestoreStatus.FAILED)
            raise RpcError(f"restore failed: {err.message}", err.code) from None
        # A real controller restores, then exits so that its service manager restarts it:
        # every connection drops, the caller's too, with no answer; the drop means success.
        ctl.restarting_until = time.monotonic() + ctl.restore_downtime
        outcome = RestoreStatus.FAILED if ctl.restore_fails else RestoreStatus.FINISHED
        asyncio.get_running_loop().call_later(ctl.restore_downtime, ctl.come_back, outcome)
        session.node.drop_all()
        raise DropConnection

    @staticmethod
    async def _finish_restore(call: Call) -> dict[str, Any]:
        ctl = call.session.ctl
        if ctl.restore_status is not RestoreStatus.FINISHED:
            ctl.set_restore_status(RestoreStatus.FAILED)
            raise RpcError("Restore did not finish successfully")
        ctl.set_restore_status(RestoreStatus.CHECKED)
        return {}


_STORED_METHODS = {
    "Info": Backups._info,
    "List": Backups._list,
    "Remove": Backups._remove,
    "PrepareRestore": Backups._prepare_restore,
    "Restore": Backups._restore,
    "FinishRestore": Backups._finish_restore,
}

__all__ = ["NOT_FOUND", "Backups", "Call", "ModelManager", "Pinger"]
