"""The RPC connection against a scripted fake WebSocket (no sockets)."""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import juju_api
from juju_api import connection as jc
from juju_api import errors as e
from juju_api.transport import MalformedMessageError, WebSocketClosed

Handler = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def make_ca() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "juju-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


CA = make_ca()
OTHER_CA = make_ca()
CONTROLLER_UUID = "c0c0c0c0-0000-4000-8000-000000000001"
MODEL_UUID = "deadbeef-0000-4000-8000-000000000002"


def login_result(**overrides: Any) -> dict[str, Any]:
    result = {
        "servers": [
            [
                {"value": "10.0.0.1", "type": "ipv4", "scope": "local-cloud", "port": 17070},
                {"value": "127.0.0.1", "type": "ipv4", "scope": "local-machine", "port": 17070},
                {"value": "54.1.2.3", "type": "ipv4", "scope": "public", "port": 17070},
            ],
            [{"value": "fd00::1", "type": "ipv6", "scope": "local-cloud", "port": 17070}],
            [{"value": "54.1.2.3", "type": "ipv4", "scope": "public", "port": 17070}],
        ],
        "controller-tag": f"controller-{CONTROLLER_UUID}",
        "model-tag": f"model-{MODEL_UUID}",
        "user-info": {"controller-access": "superuser", "model-access": "admin"},
        "facades": [
            {"name": "Backups", "versions": [1, 2]},
            {"name": "ModelManager", "versions": [9]},
            {"name": "Pinger", "versions": [1]},
            {"name": "Client", "versions": [6, 7]},
        ],
        "server-version": "2.8.11",
    }
    result.update(overrides)
    return result


class FakeWS:
    """Stands in for transport.WebSocket: answers each request with ``handler``.

    ``None`` from the handler means no answer (a timeout).
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sent: list[dict[str, Any]] = []
        self.queue: list[str] = []
        self.closed = False
        self.dead = False
        self.deadlines: list[float | None] = []

    def send_json(self, obj: Any, deadline: float | None = None) -> None:
        self.deadlines.append(deadline)
        if self.dead:
            raise WebSocketClosed("h:1", "the server dropped it without a closing handshake")
        message = json.loads(json.dumps(obj))
        self.sent.append(message)
        answer = self.handler(message)
        if answer is not None:
            self.queue.append(answer if isinstance(answer, str) else json.dumps(answer))

    def recv_json(self, deadline: float) -> Any:
        self.deadlines.append(deadline)
        if self.dead:
            raise WebSocketClosed("h:1", "the server dropped it without a closing handshake")
        if not self.queue:
            raise TimeoutError
        raw = self.queue.pop(0)
        try:
            return json.loads(raw)
        except ValueError:
            raise MalformedMessageError("h:1", f"is not valid JSON ({len(raw)} bytes)") from None

    def close(self) -> None:
        self.closed = True


def ok(message: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"request-id": message["request-id"], "response": response or {}}


def fail(message: dict[str, Any], error: str, code: str = "", info: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"request-id": message["request-id"], "error": error, "response": {}}
    if code:
        answer["error-code"] = code
    if info is not None:
        answer["error-info"] = info
    return answer


def server(routes: dict[str, Callable[[dict[str, Any]], Any]] | None = None) -> Handler:
    routes = dict(routes or {})

    def handle(message: dict[str, Any]) -> dict[str, Any] | None:
        key = f"{message['type']}.{message['request']}"
        if key in routes:
            return routes[key](message)
        if key == "Admin.Login":
            return ok(message, login_result())
        return ok(message, {})

    return handle


def logged_in(handler: Handler | None = None, **kw: Any) -> tuple[jc.Connection, FakeWS]:
    ws = FakeWS(handler or server())
    conn = jc.Connection(
        ws,  # type: ignore[arg-type]
        endpoint="10.0.0.1:17070",
        ca_cert=CA,
        username="backups",
        password="s3cret-password",
        model_uuid=MODEL_UUID,
        timeout=kw.pop("timeout", 5.0),
    )
    conn._login(kw.pop("client_version", None))
    return conn, ws


# -- login -----------------------------------------------------------------------------------


def test_login_request_is_what_juju_expects():
    _, ws = logged_in()
    login = ws.sent[0]
    assert login == {
        "request-id": 1,
        "type": "Admin",
        "version": 3,
        "id": "",
        "request": "Login",
        "params": {
            "auth-tag": "user-backups",
            "credentials": "s3cret-password",
            "nonce": "",
            "macaroons": [],
            "user-data": "",
        },
    }


def test_client_version_is_sent_only_when_asked():
    _, ws = logged_in(client_version="3.6.0")
    assert ws.sent[0]["params"]["client-version"] == "3.6.0"


def test_login_result_is_parsed():
    conn, _ = logged_in()
    assert conn.server_version == "2.8.11"
    assert conn.controller_uuid == CONTROLLER_UUID
    assert conn.model_uuid == MODEL_UUID
    assert conn.facades["Backups"] == [1, 2]
    assert conn.controller_access == "superuser"
    assert conn.model_access == "admin"
    assert conn.servers == [
        "54.1.2.3:17070",
        "10.0.0.1:17070",
        "[fd00::1]:17070",
        "127.0.0.1:17070",
    ]
    assert "s3cret" not in repr(conn)


def test_controller_only_login_has_no_model():
    handler = server({"Admin.Login": lambda m: ok(m, login_result(**{"model-tag": ""}))})
    ws = FakeWS(handler)
    conn = jc.Connection(
        ws,  # type: ignore[arg-type]
        endpoint="h:1",
        ca_cert=CA,
        username="u",
        password="p",
        model_uuid=None,
        timeout=1,
    )
    conn._login(None)
    assert conn.model_uuid is None


@pytest.mark.parametrize(
    "broken",
    [
        {"server-version": None},
        {"controller-tag": "model-x"},
        {"facades": {"Backups": [1]}},
        {"facades": [{"name": "Backups", "versions": ["1"]}]},
        {"facades": [{"versions": [1]}]},
        {"user-info": "superuser"},
    ],
)
def test_malformed_login_answers(broken: dict[str, Any]):
    handler = server({"Admin.Login": lambda m: ok(m, login_result(**broken))})
    with pytest.raises(e.ProtocolError):
        logged_in(handler)


def test_macaroon_discharge_is_unauthorized():
    handler = server({"Admin.Login": lambda m: ok(m, {"discharge-required": {"x": 1}})})
    with pytest.raises(e.Unauthorized, match="macaroon"):
        logged_in(handler)


def test_bad_password_is_unauthorized_and_never_echoes_it():
    handler = server(
        {
            "Admin.Login": lambda m: fail(
                m, f"invalid entity name or password {m['params']['credentials']}",
                "unauthorized access",
            )
        }
    )  # fmt: skip
    with pytest.raises(e.Unauthorized) as exc:
        logged_in(handler)
    assert "s3cret-password" not in str(exc.value)


# -- versions and calls ----------------------------------------------------------------------


def test_best_version_is_the_highest_both_know():
    conn, _ = logged_in()
    conn.facades = {"Backups": [1, 2, 3, 4], "ModelManager": [9, 12], "Pinger": [1], "X": [2]}
    assert conn.best_version("Backups") == 3
    assert conn.best_version("ModelManager") == 9
    assert conn.best_version("Pinger") == 1
    assert conn.best_version("X") is None  # not a facade this client knows
    assert conn.best_version("Missing") is None
    conn.facades = {"Backups": [4, 5], "ModelManager": [12]}
    assert conn.best_version("Backups") is None
    assert conn.best_version("ModelManager") is None


def test_request_ids_increase_and_params_are_left_out_when_none():
    conn, ws = logged_in()
    conn.ping()
    conn.call("Backups", "List", {})
    conn.call("Client", "FullStatus", {"patterns": []}, version=6)
    assert [m["request-id"] for m in ws.sent] == [1, 2, 3, 4]
    assert ws.sent[1] == {
        "request-id": 2, "type": "Pinger", "version": 1, "id": "", "request": "Ping",
    }  # fmt: skip
    assert ws.sent[2]["version"] == 2
    assert ws.sent[2]["params"] == {}
    assert ws.sent[3]["version"] == 6


def test_unknown_facade_version_is_refused_before_sending():
    conn, ws = logged_in()
    with pytest.raises(e.UnsupportedByController, match=r"Juju 2\.8\.11 offers Client"):
        conn.call("Client", "FullStatus")
    with pytest.raises(e.UnsupportedByController, match="offers Nope versions none"):
        conn.call("Nope", "X")
    assert len(ws.sent) == 1


def test_error_answers_become_typed_errors_with_info():
    handler = server(
        {
            "Backups.Create": lambda m: fail(m, "HA not ready; try again later"),
            "Backups.Info": lambda m: fail(m, "backup not found", "not found", {"id": "x"}),
            "Backups.List": lambda m: fail(
                m, "no such request - method Backups(2).List is not implemented",
                "not implemented",
            ),
        }
    )  # fmt: skip
    conn, _ = logged_in(handler)
    with pytest.raises(e.HANotReady):
        conn.call("Backups", "Create", {"notes": ""})
    with pytest.raises(e.NotFound) as exc:
        conn.call("Backups", "Info", {"id": "x"})
    assert exc.value.info == {"id": "x"}
    assert exc.value.code == "not found"
    with pytest.raises(e.NotImplementedByController, match=r"Backups\(2\)\.List"):
        conn.call("Backups", "List", {})


def test_error_info_and_message_never_carry_the_ca_key():
    key = "-----BEGIN RSA PRIVATE KEY-----\nAAAAsecret\n-----END RSA PRIVATE KEY-----"
    handler = server(
        {"Backups.Info": lambda m: fail(m, f"bad {key}", "bad request", {"ca-private-key": key})}
    )
    conn, _ = logged_in(handler)
    with pytest.raises(e.BadRequest) as exc:
        conn.call("Backups", "Info", {"id": "x"})
    assert "AAAAsecret" not in f"{exc.value} {exc.value!r} {exc.value.info}"


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "not a JSON object"),
        (None, "not a JSON object"),
    ],
)
def test_malformed_answers_are_protocol_errors(answer: str | None, match: str):
    def bad(m: dict[str, Any]) -> Any:
        if answer is None:
            return {"request-id": m["request-id"], "response": ["x"]}
        return answer

    conn, _ = logged_in(server({"Backups.List": bad}))
    with pytest.raises(e.ProtocolError, match=match) as exc:
        conn.call("Backups", "List", {})
    assert "{not json" not in str(exc.value)


def test_missing_response_is_an_empty_result():
    conn, _ = logged_in(
        server({"Backups.PrepareRestore": lambda m: {"request-id": m["request-id"]}})
    )
    assert conn.call("Backups", "PrepareRestore") == {}


def test_timeout_then_the_late_answer_is_skipped():
    pending: list[dict[str, Any]] = []

    def slow_create(m: dict[str, Any]) -> None:
        pending.append(m)

    ws_holder: list[FakeWS] = []

    def ping(m: dict[str, Any]) -> dict[str, Any]:
        # The late answer to Create arrives before Ping's own.
        ws_holder[0].queue.append(json.dumps(ok(pending[0], {"id": "late"})))
        return ok(m, {})

    conn, ws = logged_in(
        server({"Backups.Create": slow_create, "Pinger.Ping": ping}), timeout=0.05
    )
    ws_holder.append(ws)
    with pytest.raises(e.CallTimeout, match=r"no answer to Backups\(2\)\.Create"):
        conn.call("Backups", "Create", {"notes": ""})
    assert not conn.closed
    conn.ping()
    assert ws.queue == []


def test_a_drop_is_connection_failed_and_the_connection_is_then_closed():
    def drop(_m: dict[str, Any]) -> None:
        ws.dead = True

    conn, ws = logged_in(server({"Backups.Create": drop}))
    with pytest.raises(e.ConnectionFailed, match=r"closed during Backups\(2\)\.Create"):
        conn.call("Backups", "Create", {"notes": ""})
    assert conn.closed
    sent = len(ws.sent)
    with pytest.raises(e.ConnectionFailed, match="is closed"):
        conn.ping()
    assert len(ws.sent) == sent


def test_context_manager_closes():
    conn, ws = logged_in()
    with conn as c:
        assert c is conn
    assert ws.closed
    assert conn.closed
    conn.close()  # twice is fine


# -- models ----------------------------------------------------------------------------------


def user_models(*models: dict[str, Any]) -> dict[str, Any]:
    return {"user-models": [{"model": m, "last-connection": None} for m in models]}


def test_list_models_and_find_controller_model_v9():
    models = user_models(
        {"name": "default", "uuid": "u1", "type": "iaas", "owner-tag": "user-admin"},
        {"name": "controller", "uuid": "u2", "type": "iaas", "owner-tag": "user-admin"},
    )
    conn, ws = logged_in(server({"ModelManager.ListModels": lambda m: ok(m, models)}))
    found = juju_api.find_controller_model(conn)
    assert (found.name, found.uuid, found.owner, found.type) == (
        "controller",
        "u2",
        "admin",
        "iaas",
    )
    request = ws.sent[-1]
    assert (request["version"], request["params"]) == (9, {"tag": "user-backups"})


def test_find_controller_model_v11_with_qualifier():
    models = user_models(
        {"name": "controller", "uuid": "u2", "type": "caas", "qualifier": "admin"},
    )
    conn, ws = logged_in(server({"ModelManager.ListModels": lambda m: ok(m, models)}))
    conn.facades["ModelManager"] = [10, 11]
    found = juju_api.find_controller_model(conn)
    assert (found.qualifier, found.owner, found.type) == ("admin", None, "caas")
    assert ws.sent[-1]["version"] == 11


def test_find_controller_model_prefers_admins_and_refuses_ambiguity():
    two = user_models(
        {"name": "controller", "uuid": "bob", "type": "iaas", "owner-tag": "user-bob"},
        {"name": "controller", "uuid": "adm", "type": "iaas", "owner-tag": "user-admin"},
    )
    conn, _ = logged_in(server({"ModelManager.ListModels": lambda m: ok(m, two)}))
    assert juju_api.find_controller_model(conn).uuid == "adm"
    neither = user_models(
        {"name": "controller", "uuid": "a", "type": "iaas", "owner-tag": "user-bob"},
        {"name": "controller", "uuid": "b", "type": "iaas", "owner-tag": "user-carol"},
    )
    conn, _ = logged_in(server({"ModelManager.ListModels": lambda m: ok(m, neither)}))
    with pytest.raises(e.NotFound, match="several"):
        juju_api.find_controller_model(conn)


def test_no_controller_model_visible():
    models = user_models({"name": "default", "uuid": "u1", "type": "iaas", "owner-tag": "user-x"})
    conn, _ = logged_in(server({"ModelManager.ListModels": lambda m: ok(m, models)}))
    with pytest.raises(e.NotFound, match="superuser"):
        juju_api.find_controller_model(conn)


@pytest.mark.parametrize(
    "answer",
    [{"user-models": {"a": 1}}, {"user-models": [{"model": "x"}]}, {"user-models": [{}]}],
)
def test_malformed_list_models(answer: dict[str, Any]):
    conn, _ = logged_in(server({"ModelManager.ListModels": lambda m: ok(m, answer)}))
    with pytest.raises(e.ProtocolError):
        conn.list_models()


def test_null_user_models_is_empty():
    conn, _ = logged_in(
        server({"ModelManager.ListModels": lambda m: ok(m, {"user-models": None})})
    )
    assert conn.list_models() == []


# -- connect(): endpoints, TLS failures, redirects --------------------------------------------


class Dialer:
    """Stands in for connection._open: a behaviour per endpoint, and a record of dials."""

    def __init__(self, behaviours: dict[str, Any]) -> None:
        self.behaviours = behaviours
        self.dials: list[tuple[str, str, str | None]] = []
        self.sockets: list[FakeWS] = []

    def __call__(self, endpoint: str, ca_cert: str, model_uuid: str | None, timeout: float):
        self.dials.append((endpoint, ca_cert, model_uuid))
        behaviour = self.behaviours[endpoint]
        if isinstance(behaviour, Exception):
            raise behaviour
        ws = FakeWS(behaviour)
        self.sockets.append(ws)
        return ws


REDIRECT_INFO = {
    "servers": [[{"value": "192.0.2.9", "type": "ipv4", "scope": "public", "port": 17070}]],
    "ca-cert": OTHER_CA,
}


def test_connect_tries_the_next_endpoint(monkeypatch: pytest.MonkeyPatch):
    dialer = Dialer({"a:1": e.ConnectionFailed("a:1: refused"), "b:2": server()})
    monkeypatch.setattr(jc, "_open", dialer)
    conn = juju_api.connect(["a:1", "b:2"], CA, "backups", "pw", model_uuid=MODEL_UUID)
    assert conn.endpoint == "b:2"
    assert [d[0] for d in dialer.dials] == ["a:1", "b:2"]
    assert dialer.dials[1][2] == MODEL_UUID


def test_connect_tries_the_next_endpoint_after_a_drop_during_login(
    monkeypatch: pytest.MonkeyPatch,
):
    def drop(_m: dict[str, Any]) -> None:
        dialer.sockets[0].dead = True

    dialer = Dialer({"a:1": server({"Admin.Login": drop}), "b:2": server()})
    monkeypatch.setattr(jc, "_open", dialer)
    conn = juju_api.connect(["a:1", "b:2"], CA, "backups", "pw")
    assert conn.endpoint == "b:2"
    assert dialer.sockets[0].closed


def test_all_endpoints_down(monkeypatch: pytest.MonkeyPatch):
    dialer = Dialer(
        {"a:1": e.ConnectionFailed("a:1: refused"), "b:2": e.ConnectionFailed("b:2: x")}
    )
    monkeypatch.setattr(jc, "_open", dialer)
    with pytest.raises(e.ConnectionFailed) as exc:
        juju_api.connect(["a:1", "b:2"], CA, "backups", "pw")
    assert type(exc.value) is e.ConnectionFailed
    assert "a:1: refused" in str(exc.value)
    assert "b:2: x" in str(exc.value)


def test_tls_failure_is_reported_as_such(monkeypatch: pytest.MonkeyPatch):
    dialer = Dialer(
        {"a:1": e.TLSVerificationFailed("a:1: bad cert"), "b:2": e.ConnectionFailed("b:2: x")}
    )
    monkeypatch.setattr(jc, "_open", dialer)
    with pytest.raises(e.TLSVerificationFailed, match="a:1: bad cert"):
        juju_api.connect(["a:1", "b:2"], CA, "backups", "pw")


def test_login_refusal_is_not_retried_on_other_endpoints(monkeypatch: pytest.MonkeyPatch):
    refuse = server({"Admin.Login": lambda m: fail(m, "invalid entity name or password",
                                                     "unauthorized access")})  # fmt: skip
    dialer = Dialer({"a:1": refuse, "b:2": server()})
    monkeypatch.setattr(jc, "_open", dialer)
    with pytest.raises(e.Unauthorized):
        juju_api.connect(["a:1", "b:2"], CA, "backups", "pw")
    assert [d[0] for d in dialer.dials] == ["a:1"]
    assert dialer.sockets[0].closed


def test_redirect_is_followed_once_with_the_new_ca(monkeypatch: pytest.MonkeyPatch):
    redirect = server(
        {"Admin.Login": lambda m: fail(m, "redirection to alternative server required",
                                       "redirection required", REDIRECT_INFO)}
    )  # fmt: skip
    dialer = Dialer({"a:1": redirect, "192.0.2.9:17070": server()})
    monkeypatch.setattr(jc, "_open", dialer)
    conn = juju_api.connect(["a:1"], CA, "backups", "pw", model_uuid=MODEL_UUID)
    assert conn.endpoint == "192.0.2.9:17070"
    assert conn.ca_cert == OTHER_CA
    assert dialer.dials == [("a:1", CA, MODEL_UUID), ("192.0.2.9:17070", OTHER_CA, MODEL_UUID)]
    assert dialer.sockets[0].closed


def test_redirect_without_info_asks_redirect_info(monkeypatch: pytest.MonkeyPatch):
    redirect = server(
        {
            "Admin.Login": lambda m: fail(m, "redirect", "redirection required"),
            "Admin.RedirectInfo": lambda m: ok(m, REDIRECT_INFO),
        }
    )
    dialer = Dialer({"a:1": redirect, "192.0.2.9:17070": server()})
    monkeypatch.setattr(jc, "_open", dialer)
    conn = juju_api.connect(["a:1"], CA, "backups", "pw")
    assert conn.ca_cert == OTHER_CA
    info_request = dialer.sockets[0].sent[1]
    assert (info_request["request"], info_request["request-id"]) == ("RedirectInfo", 2)
    assert "params" not in info_request


def test_a_second_redirect_is_not_followed(monkeypatch: pytest.MonkeyPatch):
    redirect = server(
        {"Admin.Login": lambda m: fail(m, "redirect", "redirection required", REDIRECT_INFO)}
    )
    dialer = Dialer({"a:1": redirect, "192.0.2.9:17070": redirect})
    monkeypatch.setattr(jc, "_open", dialer)
    with pytest.raises(e.RedirectRequired, match="redirected twice"):
        juju_api.connect(["a:1"], CA, "backups", "pw")
    assert len(dialer.dials) == 2


def test_unresolvable_redirect_is_raised(monkeypatch: pytest.MonkeyPatch):
    redirect = server(
        {
            "Admin.Login": lambda m: fail(m, "redirect", "redirection required"),
            "Admin.RedirectInfo": lambda m: fail(m, "not redirected"),
        }
    )
    monkeypatch.setattr(jc, "_open", Dialer({"a:1": redirect}))
    with pytest.raises(e.RedirectRequired, match="redirect"):
        juju_api.connect(["a:1"], CA, "backups", "pw")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"endpoints": []}, ValueError),
        ({"endpoints": ["nohost"]}, ValueError),
        ({"endpoints": ["h:99999"]}, ValueError),
        ({"model_uuid": "../../etc"}, ValueError),
        ({"ca_cert": "not a pem"}, e.TLSVerificationFailed),
        ({"ca_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
         e.TLSVerificationFailed),
    ],
)  # fmt: skip
def test_connect_validates_before_dialling(
    monkeypatch: pytest.MonkeyPatch, args: dict[str, Any], error: type[Exception]
):
    dialer = Dialer({})
    monkeypatch.setattr(jc, "_open", dialer)
    kwargs: dict[str, Any] = {"endpoints": ["a:1"], "ca_cert": CA, "model_uuid": None} | args
    with pytest.raises(error):
        juju_api.connect(
            kwargs["endpoints"], kwargs["ca_cert"], "u", "p", model_uuid=kwargs["model_uuid"]
        )
    assert dialer.dials == []


def test_flatten_servers_skips_junk():
    servers = [[{"value": "a", "port": 1}, {"value": "", "port": 2}, {"port": 3}, "x"], "y",
               [{"Address": {"value": "b"}, "port": 4, "scope": "public"}]]  # fmt: skip
    assert jc.flatten_servers(servers) == ["b:4", "a:1"]
    assert jc.flatten_servers(None) == []


# -- what _open hands to the transport ----------------------------------------------------


class OpenRecorder:
    """Stands in for transport.WebSocket.open: records its arguments, then refuses."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self,
        endpoint: str,
        path: str,
        ssl_context: ssl.SSLContext,
        open_timeout: float,
        max_size: int,
    ) -> Any:
        self.calls.append(
            {
                "endpoint": endpoint,
                "path": path,
                "ssl_context": ssl_context,
                "open_timeout": open_timeout,
                "max_size": max_size,
            }
        )
        raise e.ConnectionFailed(f"{endpoint}: Connection refused")


def test_open_pins_the_ca_and_allows_tls_1_3(monkeypatch: pytest.MonkeyPatch):
    recorder = OpenRecorder()
    monkeypatch.setattr(jc.WebSocket, "open", recorder)
    with pytest.raises(e.ConnectionFailed, match="Connection refused"):
        jc._open("[fd00::1]:17070", CA, MODEL_UUID, 7.0)
    (seen,) = recorder.calls
    assert seen["endpoint"] == "[fd00::1]:17070"
    assert seen["path"] == f"/model/{MODEL_UUID}/api"
    assert seen["max_size"] == 64 << 20
    assert seen["open_timeout"] == 7.0
    ctx = seen["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    # TLS 1.3 whenever the controller offers it; never below Juju's own minimum.
    assert ctx.maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    # Exactly the given CA is trusted, not the system store.
    assert len(ctx.get_ca_certs()) == 1


def test_controller_path_without_model(monkeypatch: pytest.MonkeyPatch):
    recorder = OpenRecorder()
    monkeypatch.setattr(jc.WebSocket, "open", recorder)
    with pytest.raises(e.ConnectionFailed):
        jc._open("10.0.0.1:17070", CA, None, 1)
    assert [c["path"] for c in recorder.calls] == ["/api"]


def test_an_oversized_answer_is_a_protocol_error_and_ends_the_connection():
    class Oversized(FakeWS):
        def recv_json(self, deadline: float) -> Any:
            self.closed = True
            raise MalformedMessageError("h:1", "is larger than the 67108864-byte limit")

    ws = Oversized(server())
    conn = jc.Connection(
        ws,  # type: ignore[arg-type]
        endpoint="h:1",
        ca_cert=CA,
        username="u",
        password="p",
        model_uuid=None,
        timeout=5.0,
    )
    with pytest.raises(e.ProtocolError, match=r"answer to Admin\(3\)\.Login is larger than"):
        conn._login(None)
    assert conn.closed


def test_one_deadline_covers_the_whole_call():
    conn, ws = logged_in()
    ws.deadlines.clear()
    conn.call("Pinger", "Ping", timeout=3.0)
    send_deadline, recv_deadline = ws.deadlines
    assert send_deadline == recv_deadline
