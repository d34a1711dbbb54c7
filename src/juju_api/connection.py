"""A synchronous connection to a Juju controller: TLS WebSocket RPC, Login, facade versions."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import (
    CallTimeout,
    ConnectionFailed,
    JujuError,
    NotFound,
    ProtocolError,
    RedirectRequired,
    TLSVerificationFailed,
    Unauthorized,
    UnsupportedByController,
    error_from_wire,
)
from .models import DownloadResult, ModelSummary
from .tls import pinned_context, split_endpoint
from .transfer import DEFAULT_CHUNK, ProgressFn, download_backup
from .transport import MalformedMessageError, WebSocket, WebSocketClosed

logger = logging.getLogger(__name__)

# The versions of each facade this client speaks; the version used is the highest one that
# the controller offers too. ListModels has kept its shape since ModelManager v2 (Juju 2.0);
# v11 (Juju 4.0) replaced owner-tag by qualifier.
CLIENT_FACADES: Mapping[str, tuple[int, ...]] = {
    "Admin": (3,),
    "Backups": (1, 2, 3),
    "ModelManager": (2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
    "Pinger": (1,),
}
# Long model lists exceed the websockets default of 1 MiB; python-libjuju uses the same.
MAX_FRAME = 64 << 20
_UUID = re.compile(r"^[0-9a-fA-F-]{1,64}$")
_SCOPE_ORDER = {"public": 0, "local-cloud": 1, "local-fabric": 2, "": 3, "local-machine": 4}


def flatten_servers(servers: Any) -> list[str]:
    """Turn Juju's ``[[HostPort, ...], ...]`` into ``"host:port"`` strings, most public first.

    Args:
        servers: the ``servers`` value of a Login or redirect answer.

    Returns:
        The distinct addresses; malformed entries are skipped.
    """
    found: list[tuple[int, str]] = []
    for group in servers if isinstance(servers, list) else []:  # pyright: ignore[reportUnknownVariableType]
        for hp in group if isinstance(group, list) else []:  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(hp, dict):
                continue
            nested = hp.get("Address")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            value = hp.get("value") or (nested.get("value") if isinstance(nested, dict) else None)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            port = hp.get("port")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            scope = hp.get("scope", "")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if not isinstance(value, str) or not isinstance(port, int) or not value:
                continue
            addr = f"[{value}]:{port}" if ":" in value else f"{value}:{port}"
            found.append((_SCOPE_ORDER.get(scope if isinstance(scope, str) else "", 5), addr))
    out: list[str] = []
    for _, addr in sorted(found, key=lambda t: t[0]):
        if addr not in out:
            out.append(addr)
    return out


class _Redirect(RedirectRequired):
    """A redirect with its target resolved (internal: connect() follows it once)."""

    def __init__(self, err: RedirectRequired, servers: list[str], ca_cert: str) -> None:
        super().__init__(err.message, err.code, err.info)
        self.servers = servers
        self.ca_cert = ca_cert


class Connection:
    """A logged-in connection to a controller. Use :func:`connect` to make one.

    Attributes:
        endpoint: the ``host:port`` that served the login.
        ca_cert: the CA in force (after a redirect, the redirect's CA).
        username: the user logged in as (a plain name, without ``user-``).
        server_version: the controller's Juju version, e.g. ``"3.6.27"``.
        controller_uuid: the controller's UUID.
        model_uuid: the model this connection is for, ``None`` for a controller-only login.
        facades: facade name to the versions the controller offers.
        servers: every API address the controller reported, most public first.
        controller_access: the user's access to the controller (e.g. ``"superuser"``).
        model_access: the user's access to the model (e.g. ``"admin"``), if any.
    """

    def __init__(
        self,
        ws: WebSocket,
        *,
        endpoint: str,
        ca_cert: str,
        username: str,
        password: str,
        model_uuid: str | None,
        timeout: float,
    ) -> None:
        self._ws = ws
        self._password = password
        self._timeout = timeout
        self._lock = threading.Lock()
        self._next_id = 1
        self._closed = False
        self.endpoint = endpoint
        self.ca_cert = ca_cert
        self.username = username
        self.model_uuid = model_uuid
        self.server_version = ""
        self.controller_uuid = ""
        self.facades: dict[str, list[int]] = {}
        self.servers: list[str] = []
        self.controller_access: str | None = None
        self.model_access: str | None = None

    def __repr__(self) -> str:
        return (
            f"<Connection {self.endpoint} juju={self.server_version or '?'} "
            f"user={self.username} model={self.model_uuid}>"
        )

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def timeout(self) -> float:
        """The default timeout, in seconds, of each call on this connection."""
        return self._timeout

    @property
    def closed(self) -> bool:
        """Whether the connection was closed (by us or by the controller)."""
        return self._closed

    @property
    def tls_version(self) -> str | None:
        """The TLS version in use, e.g. ``"TLSv1.3"`` (``None`` once closed)."""
        return self._ws.tls_version

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._closed = True
        try:
            self._ws.close()
        except Exception:  # closing a dead socket must not raise
            logger.debug("closing %s failed", self.endpoint, exc_info=True)

    def best_version(self, facade: str) -> int | None:
        """Return the highest version of ``facade`` that both the controller and client know."""
        common = set(self.facades.get(facade, ())) & set(CLIENT_FACADES.get(facade, ()))
        return max(common) if common else None

    def call(
        self,
        facade: str,
        request: str,
        params: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Make one RPC call and return its ``response`` object.

        Args:
            facade: the facade name, e.g. ``"Backups"``.
            request: the method name, e.g. ``"Create"``.
            params: the request parameters (left out of the message when ``None``).
            version: the facade version; by default :meth:`best_version`.
            timeout: seconds to wait for the answer; by default the connection's timeout.

        Returns:
            The answer's ``response`` (an empty dict for methods without a result).

        Raises:
            UnsupportedByController: no facade version both sides know (nothing was sent).
            APIError: the controller answered with an error (a subclass by error code).
            CallTimeout: no answer in time. The call may still complete on the controller.
            ConnectionFailed: the connection is closed or dropped.
            ProtocolError: the answer is not a valid RPC message.
        """
        if version is None:
            version = self.best_version(facade)
            if version is None:
                offered = ", ".join(map(str, self.facades.get(facade, ()))) or "none"
                known = ", ".join(map(str, CLIENT_FACADES.get(facade, ()))) or "none"
                raise UnsupportedByController(
                    f"Juju {self.server_version} offers {facade} versions {offered}; "
                    f"this client knows {known}"
                )
        return self._rpc(facade, version, request, params, timeout)

    def ping(self) -> None:
        """Call ``Pinger.Ping``, to keep a long-idle connection alive or check it."""
        self.call("Pinger", "Ping")

    def list_models(self) -> list[ModelSummary]:
        """List the models the logged-in user can see (``ModelManager.ListModels``).

        Raises:
            UnsupportedByController: the controller offers no ModelManager version known here.
            ProtocolError: the answer is malformed.
        """
        result = self.call("ModelManager", "ListModels", {"tag": f"user-{self.username}"})
        entries = result.get("user-models")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise ProtocolError("malformed ListModels answer: user-models is not a list")
        models: list[ModelSummary] = []
        for entry in entries:  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(entry, dict) or not isinstance(entry.get("model"), dict):  # pyright: ignore[reportUnknownMemberType]
                raise ProtocolError("malformed ListModels answer: an entry has no model")
            models.append(ModelSummary.from_wire(entry["model"]))  # pyright: ignore[reportUnknownArgumentType]
        return models

    def download(
        self,
        backup_id: str,
        dest: Path,
        *,
        expected_checksum: str | None,
        expected_size: int | None = None,
        progress: ProgressFn | None = None,
        timeout: float | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> DownloadResult:
        """Download an archive from the node this connection is on (see :func:`download_backup`).

        Args:
            backup_id: the backup id (Juju 2.4 to 2.9.21) or the archive's ``filename``
                (2.9.22 on): the file lives on the node that served Create.
            dest: where the verified archive ends up.
            expected_checksum: base64 SHA-1 from the metadata (``None`` skips the check).
            expected_size: the size from the metadata, if known.
            progress: called with (bytes so far, total or ``None``) after each chunk.
            timeout: socket timeout in seconds; by default the connection's timeout.
            chunk_size: bytes read per chunk.

        Raises:
            ValueError: this is a controller-only connection (no model UUID).
        """
        if not self.model_uuid:
            raise ValueError("downloading needs a connection to the controller model")
        return download_backup(
            endpoint=self.endpoint,
            ca_cert=self.ca_cert,
            model_uuid=self.model_uuid,
            username=self.username,
            password=self._password,
            backup_id=backup_id,
            dest=dest,
            expected_checksum=expected_checksum,
            expected_size=expected_size,
            progress=progress,
            timeout=self._timeout if timeout is None else timeout,
            chunk_size=chunk_size,
        )

    # -- internals ---------------------------------------------------------------------------

    def _rpc(
        self,
        facade: str,
        version: int,
        request: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> dict[str, Any]:
        what = f"{facade}({version}).{request}"
        limit = self._timeout if timeout is None else timeout
        with self._lock:
            if self._closed:
                raise ConnectionFailed(f"the connection to {self.endpoint} is closed")
            request_id = self._next_id
            self._next_id += 1
            message: dict[str, Any] = {
                "request-id": request_id,
                "type": facade,
                "version": version,
                "id": "",
                "request": request,
            }
            if params is not None:
                message["params"] = dict(params)
            logger.debug("%s -> %s #%d", self.endpoint, what, request_id)
            # One deadline for the whole call: sending, pings answered meanwhile, the answer.
            deadline = time.monotonic() + limit
            try:
                self._ws.send_json(message, deadline)
                answer = self._wait(request_id, what, deadline)
            except TimeoutError:
                raise CallTimeout(
                    f"no answer to {what} from {self.endpoint} within {limit:g} s"
                ) from None
            except WebSocketClosed as e:
                self._closed = True
                raise ConnectionFailed(
                    f"the connection to {self.endpoint} was closed during {what}: {e.reason}"
                ) from None
            except MalformedMessageError as e:
                # An invalid frame ends the connection; an answer that is not JSON does not.
                self._closed = self._ws.closed
                raise ProtocolError(f"the answer to {what} {e.problem}") from None
        return self._result(answer, what)

    def _wait(self, request_id: int, what: str, deadline: float) -> dict[str, Any]:
        while True:
            answer = self._ws.recv_json(deadline)
            if not isinstance(answer, dict):
                raise ProtocolError(f"the answer to {what} is not a JSON object")
            # A late answer to an earlier call that timed out: not ours, skip it.
            if answer.get("request-id") == request_id:  # pyright: ignore[reportUnknownMemberType]
                return answer  # pyright: ignore[reportUnknownVariableType]

    def _result(self, answer: dict[str, Any], what: str) -> dict[str, Any]:
        error = answer.get("error")
        if error:
            code = answer.get("error-code") or ""
            info = answer.get("error-info") or {}
            if not isinstance(error, str) or not isinstance(code, str):
                raise ProtocolError(f"the error answer to {what} is malformed")
            if not isinstance(info, dict):
                info = {}
            raise error_from_wire(self._scrub(error), code, info)  # pyright: ignore[reportUnknownArgumentType]
        response = answer.get("response")
        if response is None:
            return {}
        if not isinstance(response, dict):
            raise ProtocolError(f"the response to {what} is not a JSON object")
        return response  # pyright: ignore[reportUnknownVariableType]

    def _scrub(self, text: str) -> str:
        # A controller has no reason to echo a password, but if one does it stops here.
        if len(self._password) >= 4:
            text = text.replace(self._password, "********")
        return text

    def _login(self, client_version: str | None) -> None:
        params: dict[str, Any] = {
            "auth-tag": f"user-{self.username}",
            "credentials": self._password,
            # Go sends these without omitempty; real controllers and the schemas expect them.
            "nonce": "",
            "macaroons": [],
            "user-data": "",
        }
        if client_version:
            params["client-version"] = client_version
        try:
            result = self._rpc("Admin", 3, "Login", params, None)
        except RedirectRequired as e:
            raise self._resolve_redirect(e) from None
        if result.get("discharge-required") or result.get("bakery-discharge-required"):
            raise Unauthorized(
                "the controller asks for macaroon authentication; "
                "use a local user with a password",
                "unauthorized access",
            )
        self._parse_login(result)

    def _parse_login(self, result: dict[str, Any]) -> None:
        facades: dict[str, list[int]] = {}
        entries = result.get("facades") or []
        if not isinstance(entries, list):
            raise ProtocolError("malformed Login answer: facades is not a list")
        for f in entries:  # pyright: ignore[reportUnknownVariableType]
            name = f.get("name") if isinstance(f, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            versions = f.get("versions") if isinstance(f, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if not isinstance(name, str) or not isinstance(versions, list):
                raise ProtocolError("malformed Login answer: a facade entry has no name/versions")
            if not all(isinstance(v, int) for v in versions):  # pyright: ignore[reportUnknownVariableType]
                raise ProtocolError(f"malformed Login answer: {name} versions are not integers")
            facades[name] = sorted(versions)  # pyright: ignore[reportUnknownArgumentType]
        server_version = result.get("server-version")
        controller_tag = result.get("controller-tag")
        model_tag = result.get("model-tag") or ""
        if not isinstance(server_version, str) or not server_version:
            raise ProtocolError("malformed Login answer: no server-version")
        if not isinstance(controller_tag, str) or not controller_tag.startswith("controller-"):
            raise ProtocolError("malformed Login answer: no controller-tag")
        if not isinstance(model_tag, str):
            raise ProtocolError("malformed Login answer: model-tag is not a string")
        user_info = result.get("user-info") or {}
        if not isinstance(user_info, dict):
            raise ProtocolError("malformed Login answer: user-info is not an object")
        self.facades = facades
        self.server_version = server_version
        self.controller_uuid = controller_tag.removeprefix("controller-")
        if model_tag.startswith("model-"):
            self.model_uuid = model_tag.removeprefix("model-")
        self.servers = flatten_servers(result.get("servers"))
        access = user_info.get("controller-access")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        self.controller_access = access if isinstance(access, str) else None
        access = user_info.get("model-access")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        self.model_access = access if isinstance(access, str) and access else None

    def _resolve_redirect(self, err: RedirectRequired) -> RedirectRequired:
        servers = flatten_servers(err.info.get("servers"))
        ca_cert = err.info.get("ca-cert")
        if not servers or not isinstance(ca_cert, str) or not ca_cert:
            # Older controllers leave the target out of the error: ask for it.
            try:
                info = self._rpc("Admin", 3, "RedirectInfo", None, None)
            except JujuError:
                return err
            servers = flatten_servers(info.get("servers"))
            ca_cert = info.get("ca-cert")
        if not servers or not isinstance(ca_cert, str) or not ca_cert:
            return err
        return _Redirect(err, servers, ca_cert)


def _open(endpoint: str, ca_cert: str, model_uuid: str | None, timeout: float) -> WebSocket:
    path = f"/model/{model_uuid}/api" if model_uuid else "/api"
    # No TLS version cap: the transport does all its socket I/O on one thread, so TLS 1.3's
    # post-handshake messages cannot race a write. The context keeps TLS 1.2 as the minimum,
    # which is Juju's too. A controller is dialled directly, whatever HTTPS_PROXY says, as
    # Juju's own client does.
    return WebSocket.open(endpoint, path, pinned_context(ca_cert), timeout, MAX_FRAME)


def _dial(
    endpoints: Sequence[str],
    ca_cert: str,
    username: str,
    password: str,
    model_uuid: str | None,
    timeout: float,
    client_version: str | None,
) -> Connection:
    failures: list[str] = []
    tls_failures: list[str] = []
    for endpoint in endpoints:
        try:
            ws = _open(endpoint, ca_cert, model_uuid, timeout)
        except TLSVerificationFailed as e:
            tls_failures.append(e.message)
            continue
        except ConnectionFailed as e:
            failures.append(e.message)
            continue
        conn = Connection(
            ws,
            endpoint=endpoint,
            ca_cert=ca_cert,
            username=username,
            password=password,
            model_uuid=model_uuid,
            timeout=timeout,
        )
        try:
            conn._login(client_version)
        except (ConnectionFailed, CallTimeout) as e:
            conn.close()
            failures.append(f"{endpoint}: login failed: {e.message}")
            continue
        except BaseException:
            conn.close()
            raise
        logger.debug("logged in to %s (Juju %s)", endpoint, conn.server_version)
        return conn
    if tls_failures:
        raise TLSVerificationFailed("; ".join(tls_failures + failures))
    raise ConnectionFailed("could not reach the controller: " + "; ".join(failures))


def connect(
    endpoints: Sequence[str],
    ca_cert: str,
    username: str,
    password: str,
    *,
    model_uuid: str | None = None,
    timeout: float = 30.0,
    client_version: str | None = None,
) -> Connection:
    """Connect and log in to a controller, trying each endpoint in turn.

    TLS trusts exactly ``ca_cert`` and verifies the name ``juju-apiserver``. One
    ``redirection required`` answer is followed, to the new addresses with the new CA.

    Args:
        endpoints: ``host:port`` addresses of the controller's API servers.
        ca_cert: the controller's CA certificate (PEM).
        username: a plain user name (``"backups"``); the tag ``user-backups`` is built here.
        password: the user's password.
        model_uuid: connect to this model (``/model/<uuid>/api``); ``None`` for the controller.
        timeout: seconds for opening each connection and, by default, for each call.
        client_version: sent as Login's ``client-version`` when given. Left out by default:
            controllers refuse most calls from a client whose major version differs from
            theirs, and one client serves Juju 2, 3 and 4 controllers.

    Returns:
        The logged-in connection (a context manager).

    Raises:
        TLSVerificationFailed: an endpoint's certificate did not verify (and none connected).
        ConnectionFailed: no endpoint could be reached.
        APIError: the login was refused (``Unauthorized`` for a wrong password, ...).
        RedirectRequired: redirected a second time.
        ValueError: no endpoints, or a malformed endpoint or model UUID.
    """
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    if not endpoints:
        raise ValueError("no controller endpoints given")
    for endpoint in endpoints:
        split_endpoint(endpoint)
    if model_uuid is not None and not _UUID.match(model_uuid):
        raise ValueError("model_uuid is not a UUID")
    pinned_context(ca_cert)  # fail on an unusable CA before dialling anything
    try:
        return _dial(endpoints, ca_cert, username, password, model_uuid, timeout, client_version)
    except _Redirect as r:
        logger.info("controller redirects to %s", ", ".join(r.servers))
        try:
            return _dial(
                r.servers, r.ca_cert, username, password, model_uuid, timeout, client_version
            )
        except _Redirect as again:
            raise RedirectRequired(
                f"redirected twice (to {', '.join(again.servers)}): {again.message}",
                again.code,
                {"servers": again.servers},
            ) from None


def find_controller_model(conn: Connection) -> ModelSummary:
    """Find the controller model (the model named ``controller``) among the user's models.

    Raises:
        NotFound: no such model is visible to this user, or more than one model has that
            name and none is owned by ``admin``.
    """
    found = [m for m in conn.list_models() if m.name == "controller"]
    if len(found) > 1:
        # Another user may name a model "controller"; the real one belongs to admin.
        owned = [m for m in found if "admin" in (m.owner, m.qualifier)]
        found = owned if len(owned) == 1 else found
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(
            f'no model named "controller" is visible to user {conn.username!r} on this '
            "controller: the user needs superuser access",
            "not found",
        )
    raise NotFound(
        'several models are named "controller"; configure the controller model UUID',
        "not found",
    )


__all__ = [
    "CLIENT_FACADES",
    "Connection",
    "connect",
    "find_controller_model",
    "flatten_servers",
]
