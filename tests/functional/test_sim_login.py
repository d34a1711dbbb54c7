"""The simulator's login, facade list, ModelManager and RPC framing, with plain clients."""

from __future__ import annotations

import ssl

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import MakeSim
from tests.jujusim import KNOWN_VERSIONS
from tests.jujusim.wire import RawRpc

# Backups facade versions each release advertises (the table in juju-api.md).
BACKUPS_VERSIONS = {
    "2.3.4": [1],
    "2.8.11": [1, 2],
    "2.9.22": [2],
    "2.9.60": [3],
    "3.6.27": [3],
    "4.0.14": [3],
}
MODELMANAGER_VERSION = {
    "2.3.4": 8,
    "2.8.11": 8,
    "2.9.22": 9,
    "2.9.60": 9,
    "3.6.27": 10,
    "4.0.14": 11,
}


def facades(answer: dict) -> dict[str, list[int]]:
    return {f["name"]: f["versions"] for f in answer["response"]["facades"]}


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_model_login_answers_like_the_release(make_sim: MakeSim, version: str):
    sim = make_sim(version, ha=2)
    with RawRpc(sim.endpoints[1], sim.ca_cert, sim.controller_model_uuid) as rpc:
        answer = rpc.login(sim.username, sim.password)
    assert "error" not in answer
    result = answer["response"]
    assert result["server-version"] == version
    assert result["model-tag"] == f"model-{sim.controller_model_uuid}"
    assert result["controller-tag"] == f"controller-{sim.controller_uuid}"
    assert result["user-info"]["identity"] == "user-admin"
    assert result["user-info"]["controller-access"] == "superuser"
    assert result["user-info"]["model-access"] == "admin"
    ports = [[hp["port"] for hp in machine] for machine in result["servers"]]
    assert ports == [[int(e.rsplit(":", 1)[1])] for e in sim.endpoints]
    # A model login lists model facades: Backups, not ModelManager.
    assert facades(answer) == {"Backups": BACKUPS_VERSIONS[version], "Pinger": [1]}


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_controller_login_and_list_models(make_sim: MakeSim, version: str):
    sim = make_sim(version)
    with RawRpc(sim.endpoints[0], sim.ca_cert) as rpc:
        answer = rpc.login(sim.username, sim.password)
        assert "model-tag" not in answer["response"]
        assert facades(answer) == {"ModelManager": [MODELMANAGER_VERSION[version]], "Pinger": [1]}
        listed = rpc.call(
            "ModelManager", MODELMANAGER_VERSION[version], "ListModels", {"tag": "user-admin"}
        )
    models = {m["model"]["name"]: m["model"] for m in listed["response"]["user-models"]}
    assert set(models) == {"controller", "default"}
    assert models["controller"]["uuid"] == sim.controller_model_uuid
    assert models["default"]["uuid"] == sim.default_model_uuid
    assert models["controller"]["type"] == "iaas"
    if version.startswith("4."):
        assert models["controller"]["qualifier"] == "admin"
        assert "owner-tag" not in models["controller"]
    else:
        assert models["controller"]["owner-tag"] == "user-admin"
        assert "qualifier" not in models["controller"]


def test_model_manager_is_refused_on_a_model_connection(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.login(sim.username, sim.password)
        answer = rpc.call("ModelManager", 10, "ListModels", {"tag": "user-admin"})
    assert answer["error"] == 'facade "ModelManager" not supported for model API connection'
    assert answer["error-code"] == "not supported"
    assert answer["response"] == {}


def test_list_models_of_another_user_needs_superuser(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    sim.add_user("bob", "bob-secret")
    with RawRpc(sim.endpoints[0], sim.ca_cert) as rpc:
        login = rpc.login("bob", "bob-secret")
        assert login["response"]["user-info"]["controller-access"] == "login"
        own = rpc.call("ModelManager", 10, "ListModels", {"tag": "user-bob"})
        other = rpc.call("ModelManager", 10, "ListModels", {"tag": "user-admin"})
    assert len(own["response"]["user-models"]) == 2
    assert other["error"] == "permission denied"
    assert other["error-code"] == "unauthorized access"


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong"), ("nobody", "whatever"), ("admin", "")],
)
def test_bad_credentials_are_refused(make_sim: MakeSim, username: str, password: str):
    sim = make_sim("2.9.60")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        answer = rpc.login(username, password)
        # Still not logged in: Backups is unknown to the anonymous root.
        after = rpc.call("Backups", 3, "Create", {"notes": "", "no-download": False})
    assert answer["error"] == "invalid entity name or password"
    assert answer["error-code"] == "unauthorized access"
    assert answer["response"] == {}
    assert after["error"] == 'unknown version (3) of interface "Backups"'
    assert after["error-code"] == "not implemented"


def test_agent_and_malformed_tags_are_refused(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        agent = rpc.call("Admin", 3, "Login", {"auth-tag": "machine-0", "credentials": "x"})
        bare = rpc.call("Admin", 3, "Login", {"auth-tag": "admin", "credentials": sim.password})
    assert agent["error"] == "invalid entity name or password"
    assert agent["error-code"] == "unauthorized access"
    assert bare["error"] == '"admin" is not a valid tag'
    assert "error-code" not in bare


def test_user_without_model_access_cannot_log_in_to_the_model(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    sim.add_user("carol", "carol-secret", model_access="")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        answer = rpc.login("carol", "carol-secret")
    assert answer["error"] == "permission denied"
    assert answer["error-code"] == "unauthorized access"
    with RawRpc(sim.endpoints[0], sim.ca_cert) as rpc:
        assert "error" not in rpc.login("carol", "carol-secret")


def test_unknown_model(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    missing = "0" * 8 + "-0000-4000-8000-" + "0" * 12
    with RawRpc(sim.endpoints[0], sim.ca_cert, missing) as rpc:
        answer = rpc.login(sim.username, sim.password)
    assert answer["error"] == f'unknown model: "{missing}"'
    assert answer["error-code"] == "model not found"


def test_old_admin_versions_and_second_login(make_sim: MakeSim):
    sim = make_sim("2.9.60")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        old = rpc.call("Admin", 2, "Login", {"auth-tag": "user-admin", "credentials": "x"})
        assert old["error"] == "this version of Juju does not support login from old clients"
        assert old["error-code"] == "not supported"
        assert "error" not in rpc.login(sim.username, sim.password)
        again = rpc.login(sim.username, sim.password)
    assert again["error"] == 'unknown version (3) of interface "Admin"'


def test_unknown_facade_version_and_method_texts(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.login(sim.username, sim.password)
        no_facade = rpc.call("Foo", 1, "Bar", {})
        no_facade_version0 = rpc.call("Foo", 0, "Bar", {})
        no_version = rpc.call("Backups", 2, "Create", {"notes": "", "no-download": False})
        no_method = rpc.call("Backups", 3, "List", {})
        bad_id = rpc.call("Pinger", 1, "Ping", obj_id="x")
        ping = rpc.call("Pinger", 1, "Ping")
    assert no_facade["error"] == 'unknown version (1) of interface "Foo"'
    assert no_facade_version0["error"] == 'unknown object type "Foo"'
    assert no_version["error"] == 'unknown version (2) of interface "Backups"'
    assert no_method["error"] == "no such request - method Backups(3).List is not implemented"
    for answer in (no_facade, no_facade_version0, no_version, no_method):
        assert answer["error-code"] == "not implemented"
        assert answer["response"] == {}
    assert bad_id["error"] == "id not found"
    assert bad_id["error-code"] == "not found"
    assert ping == {"request-id": ping["request-id"], "response": {}}


def test_request_id_zero_gets_the_old_format_and_a_violation(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.send({"request-id": 0, "type": "Pinger", "version": 1, "request": "Ping"})
        answer = rpc.recv()
    assert answer["RequestId"] == 0
    assert answer["ErrorCode"] == "not implemented"
    assert "request-id" not in answer
    assert any("request-id 0" in v for v in sim.violations)
    sim.violations.clear()


def test_unparsable_request_closes_the_connection(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.send("{not json")
        with pytest.raises(ConnectionClosed):
            rpc.recv()
    assert any("not a JSON object" in v for v in sim.violations)
    sim.violations.clear()


def test_wrong_json_type_is_refused_and_recorded(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.login(sim.username, sim.password)
        answer = rpc.call("Backups", 3, "Create", {"notes": 5, "no-download": False})
    assert answer["error"] == (
        "json: cannot unmarshal number into Go struct field BackupsCreateArgs.notes of type string"
    )
    assert answer["response"] == {}
    assert len(sim.violations) == 1
    assert "Backups(3).Create" in sim.violations[0]
    assert "notes" in sim.violations[0]
    assert not list(sim.backup_dir(0).iterdir())
    sim.violations.clear()


def test_unknown_field_is_ignored_like_go_but_recorded(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.login(sim.username, sim.password)
        # keep-copy does not exist on v3: a real controller silently ignores it.
        answer = rpc.call("Backups", 3, "Create", {"notes": "", "keep-copy": True})
    assert "error" not in answer
    assert len(sim.violations) == 1
    assert "keep-copy" in sim.violations[0]
    sim.violations.clear()


def test_missing_fields_take_zero_values_without_violation(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        login = rpc.call(
            "Admin", 3, "Login", {"auth-tag": "user-admin", "credentials": sim.password}
        )
        created = rpc.call("Backups", 3, "Create")
    assert "error" not in login
    assert created["response"]["notes"] == ""
    assert sim.violations == []


def test_calls_are_recorded_without_the_password(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.login(sim.username, sim.password)
        rpc.call("Pinger", 1, "Ping")
    assert [(c.facade, c.version, c.method) for c in sim.calls] == [
        ("Admin", 3, "Login"),
        ("Pinger", 1, "Ping"),
    ]
    assert sim.password not in repr(sim.calls)


def test_tls_is_pinned_to_the_simulators_ca(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    other = make_sim("3.6.27")
    with pytest.raises(ssl.SSLCertVerificationError):
        RawRpc(sim.endpoints[0], other.ca_cert)


def test_redirect(make_sim: MakeSim):
    old = make_sim("3.6.27")
    new = make_sim("3.6.27", ha=2)
    old.redirect_to(new)
    with RawRpc(old.endpoints[0], old.ca_cert, old.controller_model_uuid) as rpc:
        login = rpc.login(old.username, old.password)
        info = rpc.call("Admin", 3, "RedirectInfo")
    assert login["error-code"] == "redirection required"
    assert login["error-info"]["ca-cert"] == new.ca_cert
    ports = [[hp["port"] for hp in m] for m in login["error-info"]["servers"]]
    assert ports == [[int(e.rsplit(":", 1)[1])] for e in new.endpoints]
    assert login["error-info"]["servers"][0][0] == {
        "value": "127.0.0.1",
        "type": "ipv4",
        "scope": "local-machine",
        "port": int(new.endpoints[0].rsplit(":", 1)[1]),
    }
    assert info["response"] == {"servers": login["error-info"]["servers"], "ca-cert": new.ca_cert}
    with RawRpc(
        new.endpoints[1], login["error-info"]["ca-cert"], new.controller_model_uuid
    ) as rpc:
        assert "error" not in rpc.login(new.username, new.password)
    old.redirect_to(None)
    with RawRpc(old.endpoints[0], old.ca_cert, old.controller_model_uuid) as rpc:
        assert "error" not in rpc.login(old.username, old.password)
        not_redirected = rpc.call("Admin", 3, "RedirectInfo")
    assert not_redirected["error"] == 'unknown version (3) of interface "Admin"'
