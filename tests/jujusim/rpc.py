"""The RPC side of one API connection: login, facade lookup, checks, faults, answers."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import (
    NOT_IMPLEMENTED,
    NOT_SUPPORTED,
    REDIRECT,
    DropConnection,
    RpcError,
    bad_creds,
    bad_id,
    call_not_implemented,
    perm_denied,
)
from .facades import Backups, Call, ModelManager, Pinger
from .profiles import Profile
from .schema import FacadeSchema, index, load
from .state import CallRecord, Controller, Model, RestoreStatus, User, rfc3339
from .versions import version_key

ENVELOPE_KEYS = frozenset({"request-id", "type", "version", "id", "request", "params"})
# apiserver/restrict_controller.go: the facades a controller-only (/api) login may use.
CONTROLLER_FACADES = frozenset(
    {"AllModelWatcher", "Cloud", "Controller", "MigrationTarget", "ModelManager", "UserManager"}
)
COMMON_FACADES = frozenset({"Pinger"})
# apiserver/restrict_restore.go: what a login made while a restore is pending may call.
ALLOWED_ABOUT_TO_RESTORE = frozenset({"Backups.Restore", "Backups.FinishRestore", "Pinger.Ping"})
ABOUT_TO_RESTORE = "juju restore is in progress - functionality is limited to avoid data loss"
RESTORE_IN_PROGRESS = "juju restore is in progress - API is disabled to prevent data loss"
MAINTENANCE_NO_LOGIN = "login failed - maintenance in progress"


@dataclass
class NodeInfo:
    """What a connection needs to know about the node that serves it."""

    index: int
    controller: Controller
    servers: Callable[[], list[list[dict[str, Any]]]]
    drop_all: Callable[[], None]


def _newest_login_fields() -> frozenset[str]:
    newest = max(
        (e for e in index() if e.facade == "Admin"), key=lambda e: version_key(e.highest())
    )
    return FacadeSchema(newest, load(newest.file)).definition_properties("LoginRequest")


class Session:
    def __init__(self, node: NodeInfo, model_uuid: str | None) -> None:
        self.node = node
        self.ctl = node.controller
        self.profile: Profile = node.controller.profile
        self.model_uuid = model_uuid
        self.user: User | None = None
        self.model: Model | None = None
        self.restore_mode = RestoreStatus.NOT_ACTIVE

    def violation(self, text: str) -> None:
        self.ctl.violation(f"node {self.node.index}: {text}")

    # -- one request ---------------------------------------------------------------------

    async def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        """The answer to one request (kebab-case format); DropConnection to answer nothing."""
        request_id = message["request-id"]
        try:
            response = await self._dispatch(message)
        except RpcError as err:
            answer: dict[str, Any] = {"request-id": request_id, "error": err.message}
            if err.code:
                answer["error-code"] = err.code
            if err.info:
                answer["error-info"] = err.info
            answer["response"] = {}
            return answer
        return {"request-id": request_id, "response": response}

    async def _dispatch(self, message: dict[str, Any]) -> dict[str, Any]:
        facade = message.get("type")
        version = message.get("version", 0)
        method = message.get("request")
        obj_id = message.get("id", "")
        params = message.get("params", {})
        envelope_ok = (
            isinstance(facade, str)
            and isinstance(method, str)
            and isinstance(version, int)
            and not isinstance(version, bool)
            and isinstance(obj_id, str)
        )
        if not envelope_ok:
            self.violation(f"request envelope of the wrong types: {_redacted(message)!r}")
            # Go's decoder fails on the header; the connection is closed.
            raise DropConnection
        assert isinstance(facade, str)
        assert isinstance(method, str)
        assert isinstance(version, int)
        unknown = set(message) - ENVELOPE_KEYS
        if unknown:
            self.violation(f"{facade}.{method}: unknown request fields {sorted(unknown)}")
        if params is None:
            params = {}
        self.ctl.record_call(
            CallRecord(self.node.index, facade, version, method, _redacted_params(params))
        )
        faults = {f.kind: f for f in self.ctl.take_faults(facade, method)}
        if "delay" in faults:
            await asyncio.sleep(faults["delay"].seconds)
        if "drop" in faults:
            raise DropConnection
        if "fail" in faults:
            raise RpcError(faults["fail"].message, faults["fail"].code)

        if self.user is None:
            return await self._before_login(facade, version, method, obj_id, params)
        return await self._logged_in(facade, version, method, obj_id, params)

    # -- before login: only Admin --------------------------------------------------------

    async def _before_login(
        self, facade: str, version: int, method: str, obj_id: str, params: Any
    ) -> dict[str, Any]:
        if facade != "Admin":
            raise call_not_implemented(facade, version)
        if version != 3:
            raise RpcError(
                "this version of Juju does not support login from old clients", NOT_SUPPORTED
            )
        schema = self.profile.schema("Admin", 3)
        if method not in schema.methods:
            raise call_not_implemented(facade, version, method)
        if obj_id:
            raise bad_id()
        checked = params
        if method == "Login" and isinstance(params, dict):
            # A client cannot know the release before logging in: a field that some release's
            # Login takes (client-version, token) is no fault when this one ignores it.
            known = schema.definition_properties("LoginRequest")
            checked = {k: v for k, v in params.items() if k in known or k not in _LOGIN_FIELDS}
        self._check_params(schema, facade, version, method, checked)
        result = self._redirect_info() if method == "RedirectInfo" else self._login(params)
        self._check_result(schema, facade, version, method, result)
        return result

    def _redirect_info(self) -> dict[str, Any]:
        redirect = self.ctl.redirect
        if redirect is None:
            raise RpcError("not redirected")
        return {"servers": redirect.servers, "ca-cert": redirect.ca_cert}

    def _login(self, params: dict[str, Any]) -> dict[str, Any]:
        auth_tag = str(params.get("auth-tag") or "")
        credentials = str(params.get("credentials") or "")
        kind, _, name = auth_tag.partition("-")
        if auth_tag and (not name or kind not in _TAG_KINDS):
            raise RpcError(f'"{auth_tag}" is not a valid tag')
        redirect = self.ctl.redirect
        if redirect is not None and kind == "user":
            raise RpcError(
                "redirection to alternative server required",
                REDIRECT,
                {
                    "servers": redirect.servers,
                    "ca-cert": redirect.ca_cert,
                    "controller-tag": redirect.controller_tag,
                },
            )
        if time.monotonic() < self.ctl.restarting_until:
            # The controller is coming back from a restore: logins fail until it is up.
            raise RpcError(MAINTENANCE_NO_LOGIN)
        model: Model | None = None
        if self.model_uuid is not None:
            model = self.ctl.models.get(self.model_uuid)
            if model is None:
                raise RpcError(f'unknown model: "{self.model_uuid}"', "model not found")
        # No agent of this controller logs in through the simulator: only users.
        user = self.ctl.authenticate(name, credentials) if kind == "user" else None
        if user is None:
            raise bad_creds()
        model_access = self.ctl.model_access(user, model) if model is not None else ""
        if model is not None and not model_access:
            raise perm_denied()
        self.user = user
        self.model = model
        self.restore_mode = self.ctl.restore_status
        result: dict[str, Any] = {
            "servers": self.node.servers(),
            "controller-tag": f"controller-{self.ctl.controller_uuid}",
            "user-info": {
                "display-name": "",
                "identity": f"user-{user.name}",
                "controller-access": "superuser" if user.superuser else "login",
                "model-access": model_access,
                "last-connection": rfc3339(datetime.datetime.now(datetime.timezone.utc)),
            },
            "facades": self._facades(),
            "server-version": self.profile.juju_version,
        }
        if model is not None:
            result["model-tag"] = f"model-{model.uuid}"
        return result

    def _facades(self) -> list[dict[str, Any]]:
        """The facades this login may use, as Login lists them (filtered like Juju's)."""
        if self.model is None:
            usable = lambda name: name in CONTROLLER_FACADES | COMMON_FACADES  # noqa: E731
        else:
            usable = lambda name: name not in CONTROLLER_FACADES  # noqa: E731
        return [
            {"name": name, "versions": list(versions)}
            for name, versions in sorted(self.profile.facade_versions().items())
            if usable(name)
        ]

    # -- after login ---------------------------------------------------------------------

    async def _logged_in(
        self, facade: str, version: int, method: str, obj_id: str, params: Any
    ) -> dict[str, Any]:
        if self.restore_mode is RestoreStatus.PENDING:
            if f"{facade}.{method}" not in ALLOWED_ABOUT_TO_RESTORE:
                raise RpcError(ABOUT_TO_RESTORE)
        elif self.restore_mode is RestoreStatus.IN_PROGRESS:
            raise RpcError(RESTORE_IN_PROGRESS)
        if self.model is None and facade not in CONTROLLER_FACADES | COMMON_FACADES:
            raise RpcError(
                f'facade "{facade}" not supported for controller API connection', NOT_SUPPORTED
            )
        if self.model is not None and facade in CONTROLLER_FACADES:
            raise RpcError(
                f'facade "{facade}" not supported for model API connection', NOT_SUPPORTED
            )
        versions = self.profile.facade_versions().get(facade)
        if versions is None or version not in versions:
            raise call_not_implemented(facade, version)
        schema = self.profile.schema(facade, version)
        if method not in schema.methods:
            raise call_not_implemented(facade, version, method)
        if obj_id:
            raise bad_id()
        self._check_params(schema, facade, version, method, params)
        call = Call(self, version, method, params if isinstance(params, dict) else {}, schema)
        handler = _FACADES[facade]
        result = await handler(call)
        if schema.has_result(method):
            # Built with every field any release has; keep the ones this release carries.
            result = schema.project_result(method, result)
        self._check_result(schema, facade, version, method, result)
        return result

    # -- schema checks -------------------------------------------------------------------

    def _check_params(
        self, schema: FacadeSchema, facade: str, version: int, method: str, params: Any
    ) -> None:
        rejected: list[str] = []
        for problem in schema.check_params(method, params):
            self.violation(
                f"request {facade}({version}).{method} params off-schema: {problem.text}"
            )
            if problem.rejected:
                rejected.append(problem.go_error)
        if rejected:
            raise RpcError(rejected[0])

    def _check_result(
        self, schema: FacadeSchema, facade: str, version: int, method: str, result: Any
    ) -> None:
        for problem in schema.check_result(method, result):
            self.violation(f"answer to {facade}({version}).{method} off-schema: {problem}")


_LOGIN_FIELDS = _newest_login_fields()
_TAG_KINDS = frozenset(
    {"user", "machine", "unit", "application", "model", "controller", "action", "operation"}
)
_FACADES = {"Backups": Backups.call, "ModelManager": ModelManager.call, "Pinger": Pinger.call}


def _redacted_params(params: Any) -> Any:
    if isinstance(params, dict) and "credentials" in params:
        return {**params, "credentials": "<redacted>"}
    return params


def _redacted(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "params": _redacted_params(message.get("params"))}


__all__ = ["NOT_IMPLEMENTED", "NodeInfo", "Session"]
