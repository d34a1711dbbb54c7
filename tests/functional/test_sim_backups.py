"""Every Backups method each release serves, and that release's answers to the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MakeSim
from tests.jujusim import Simulator
from tests.jujusim.wire import RawRpc

NOT_IN_DATABASE = "backups stored in the controller database not supported"
JUJU_RESTORE = "restore is now provided by the standalone juju-restore utility"
METADATA_3X = {
    "id", "checksum", "checksum-format", "size", "stored", "started", "finished", "notes",
    "model", "machine", "hostname", "version", "base", "filename", "format-version",
    "controller-uuid", "controller-machine-id", "controller-machine-inst-id", "ha-nodes",
}  # fmt: skip


def controller_rpc(sim: Simulator, node: int = 0) -> RawRpc:
    rpc = RawRpc(sim.endpoints[node], sim.ca_cert, sim.controller_model_uuid)
    assert "error" not in rpc.login(sim.username, sim.password)
    return rpc


def no_such_request(version: int, method: str) -> str:
    return f"no such request - method Backups({version}).{method} is not implemented"


def test_36_create_only(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=256 << 10)
    with controller_rpc(sim) as rpc:
        created = rpc.call("Backups", 3, "Create", {"notes": "nightly", "no-download": False})
        others = {
            m: rpc.call("Backups", 3, m, p)
            for m, p in [
                ("Info", {"id": "x"}),
                ("List", {}),
                ("Remove", {"ids": ["x"]}),
                ("PrepareRestore", None),
                ("Restore", {"backup-id": "x"}),
                ("FinishRestore", None),
            ]
        }
    meta = created["response"]
    assert set(meta) == METADATA_3X
    assert meta["stored"] == "0001-01-01T00:00:00Z"
    assert meta["version"] == "3.6.27"
    assert meta["notes"] == "nightly"
    assert meta["checksum-format"] == "SHA-1, base64 encoded"
    assert meta["model"] == sim.controller_model_uuid
    assert meta["controller-uuid"] == sim.controller_uuid
    assert meta["ha-nodes"] == 1
    assert meta["id"].endswith("." + sim.controller_model_uuid)
    path = Path(meta["filename"])
    assert path.parent == sim.backup_dir(0)
    assert path.name.startswith("juju-backup-")
    assert path.name.endswith(".tar.gz")
    assert path.stat().st_size == meta["size"]
    assert 200 << 10 < meta["size"] < 300 << 10
    for method, answer in others.items():
        assert answer["error"] == no_such_request(3, method)
        assert answer["error-code"] == "not implemented"


def test_40_create_is_not_implemented(make_sim: MakeSim):
    sim = make_sim("4.0.14")
    with controller_rpc(sim) as rpc:
        answer = rpc.call("Backups", 3, "Create", {"notes": "", "no-download": False})
        listed = rpc.call("Backups", 3, "List", {})
    assert answer["error"] == "Dqlite-based backups not implemented"
    assert answer["error-code"] == "not implemented"
    assert listed["error"] == no_such_request(3, "List")
    assert not list(sim.backup_dir(0).iterdir())


@pytest.mark.parametrize(("version", "facade_version"), [("2.9.22", 2), ("2.9.60", 3)])
def test_29_reduced_facade(make_sim: MakeSim, version: str, facade_version: int):
    sim = make_sim(version, archive_size=64 << 10)
    with controller_rpc(sim) as rpc:
        created = rpc.call(
            "Backups", facade_version, "Create", {"notes": "n", "no-download": True}
        )
        info = rpc.call("Backups", facade_version, "Info", {"id": "x"})
        listed = rpc.call("Backups", facade_version, "List", {})
        removed = rpc.call("Backups", facade_version, "Remove", {"ids": ["x"]})
        restore = rpc.call("Backups", facade_version, "Restore", {"backup-id": "x"})
        prepare = rpc.call("Backups", facade_version, "PrepareRestore")
        finish = rpc.call("Backups", facade_version, "FinishRestore")
    meta = created["response"]
    # no-download is ignored: the archive is on the controller machine all the same.
    assert Path(meta["filename"]).is_file()
    assert Path(meta["filename"]).parent == sim.backup_dir(0)
    assert meta["series"] == "focal"
    if facade_version == 2:
        assert meta["ca-private-key"] == sim.ca_private_key
        assert sim.ca_private_key_marker in meta["ca-private-key"]
        assert meta["ca-cert"] == sim.ca_cert
        assert "base" not in meta
    else:
        assert "ca-private-key" not in meta
        assert "ca-cert" not in meta
        assert meta["base"] == "ubuntu@22.04"
    for answer in (info, listed, removed):
        assert answer["error"] == NOT_IN_DATABASE
        assert answer["error-code"] == "not supported"
    assert restore["error"] == JUJU_RESTORE
    assert "error-code" not in restore
    assert prepare["error"] == no_such_request(facade_version, "PrepareRestore")
    assert finish["error"] == no_such_request(facade_version, "FinishRestore")


def test_28_keep_copy_store_info_list_remove(make_sim: MakeSim):
    sim = make_sim("2.8.11", archive_size=64 << 10)
    with controller_rpc(sim) as rpc:
        kept = rpc.call(
            "Backups", 2, "Create", {"notes": "kept", "keep-copy": True, "no-download": True}
        )
        meta = kept["response"]
        assert meta["stored"] != "0001-01-01T00:00:00Z"
        assert meta["series"] == "bionic"
        assert meta["ca-private-key"] == sim.ca_private_key
        assert set(sim.stored_backups) == {meta["id"]}
        info = rpc.call("Backups", 2, "Info", {"id": meta["id"]})
        listed = rpc.call("Backups", 2, "List", {})
        missing = rpc.call("Backups", 2, "Info", {"id": "nope"})
        removed = rpc.call("Backups", 2, "Remove", {"ids": [meta["id"], "nope"]})
        after = rpc.call("Backups", 2, "List", {})
    assert info["response"] == meta
    assert listed["response"] == {"list": [meta]}
    assert missing["error"] == 'backup metadata "nope" not found'
    assert missing["error-code"] == "not found"
    assert removed["response"] == {
        "results": [
            {},
            {"error": {"message": 'backup metadata "nope" not found', "code": "not found"}},
        ]
    }
    assert after["response"] == {"list": []}
    assert sim.stored_backups == {}


def test_28_create_without_keep_copy_is_not_stored(make_sim: MakeSim):
    sim = make_sim("2.8.11", archive_size=64 << 10)
    with controller_rpc(sim) as rpc:
        created = rpc.call(
            "Backups", 2, "Create", {"notes": "", "keep-copy": False, "no-download": False}
        )
        listed = rpc.call("Backups", 2, "List", {})
    assert created["response"]["stored"] == "0001-01-01T00:00:00Z"
    assert listed["response"] == {"list": []}
    assert Path(created["response"]["filename"]).parent == sim.backup_dir(0)


def test_28_v1_create_always_keeps(make_sim: MakeSim):
    sim = make_sim("2.8.11", archive_size=64 << 10)
    with controller_rpc(sim) as rpc:
        created = rpc.call("Backups", 1, "Create", {"notes": "v1"})
        removed = rpc.call("Backups", 1, "Remove", {"id": created["response"]["id"]})
    meta = created["response"]
    # v1's result has no filename, format-version or controller fields.
    assert "filename" not in meta
    assert "controller-uuid" not in meta
    assert meta["ca-private-key"] == sim.ca_private_key
    assert removed["response"] == {}
    assert sim.stored_backups == {}


def test_23_v1_only(make_sim: MakeSim):
    sim = make_sim("2.3.4", archive_size=64 << 10)
    with controller_rpc(sim) as rpc:
        v2 = rpc.call(
            "Backups", 2, "Create", {"notes": "", "keep-copy": True, "no-download": False}
        )
        created = rpc.call("Backups", 1, "Create", {"notes": "old"})
        listed = rpc.call("Backups", 1, "List", {})
        info = rpc.call("Backups", 1, "Info", {"id": created["response"]["id"]})
        removed = rpc.call("Backups", 1, "Remove", {"id": created["response"]["id"]})
        missing = rpc.call("Backups", 1, "Remove", {"id": created["response"]["id"]})
    assert v2["error"] == 'unknown version (2) of interface "Backups"'
    meta = created["response"]
    assert meta["stored"] != "0001-01-01T00:00:00Z"
    assert meta["series"] == "xenial"
    assert listed["response"] == {"list": [meta]}
    assert info["response"] == meta
    assert removed["response"] == {}
    assert missing["error-code"] == "not found"


@pytest.mark.parametrize("version", ["2.3.4", "2.8.11", "2.9.22", "3.6.27", "4.0.14"])
def test_backups_refusals(make_sim: MakeSim, version: str):
    sim = make_sim(version)
    facade_version = max(sim.profile.backups_versions)
    sim.add_user("backups", "not-super")
    params = {"notes": ""}
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        assert "error" not in rpc.login("backups", "not-super")
        user = rpc.call("Backups", facade_version, "Create", params)
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.default_model_uuid) as rpc:
        assert "error" not in rpc.login(sim.username, sim.password)
        default = rpc.call("Backups", facade_version, "Create", params)
    with RawRpc(sim.endpoints[0], sim.ca_cert) as rpc:
        assert "error" not in rpc.login(sim.username, sim.password)
        controller_only = rpc.call("Backups", facade_version, "Create", params)
    sim.kubernetes = True
    with controller_rpc(sim) as rpc:
        k8s = rpc.call("Backups", facade_version, "Create", params)
    assert (user["error"], user["error-code"]) == ("permission denied", "unauthorized access")
    assert default["error"] == (
        "backups are only supported from the controller model\n"
        "Use juju switch to select the controller model"
    )
    assert "error-code" not in default
    assert controller_only["error"] == (
        'facade "Backups" not supported for controller API connection'
    )
    assert controller_only["error-code"] == "not supported"
    assert k8s["error"] == "backups on kubernetes controllers not supported"
    assert k8s["error-code"] == "not supported"
    assert not list(sim.backup_dir(0).iterdir())


def test_kubernetes_models_are_caas(make_sim: MakeSim):
    sim = make_sim("3.6.27")
    sim.kubernetes = True
    with RawRpc(sim.endpoints[0], sim.ca_cert) as rpc:
        rpc.login(sim.username, sim.password)
        listed = rpc.call("ModelManager", 10, "ListModels", {"tag": "user-admin"})
    assert {m["model"]["type"] for m in listed["response"]["user-models"]} == {"caas"}


def test_concurrent_calls_on_one_connection(make_sim: MakeSim):
    """Juju serves each request on its own: a Ping is answered while a Create runs."""
    sim = make_sim("3.6.27", archive_size=64 << 10)
    sim.delay_next("Backups", "Create", 0.5)
    with controller_rpc(sim) as rpc:
        create_id = rpc.request("Backups", 3, "Create", {"notes": "", "no-download": False})
        ping_id = rpc.request("Pinger", 1, "Ping")
        first, second = rpc.recv(), rpc.recv()
    assert first["request-id"] == ping_id
    assert second["request-id"] == create_id
    assert "error" not in second
