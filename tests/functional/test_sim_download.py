"""The HTTPS archive endpoint: streamed download, checksums, one-shot files, HA, upload."""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from tests.conftest import MakeSim
from tests.jujusim import Simulator
from tests.jujusim.wire import RawRpc, basic_auth, download, http_request, upload


def b64sha1(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324


def create(sim: Simulator, node: int = 0, **params: object) -> dict:
    version = max(sim.profile.backups_versions)
    args: dict[str, object] = {"notes": "test"}
    if version >= 2:
        args["no-download"] = False
    args.update(params)
    with RawRpc(sim.endpoints[node], sim.ca_cert, sim.controller_model_uuid) as rpc:
        assert "error" not in rpc.login(sim.username, sim.password)
        answer = rpc.call("Backups", version, "Create", args)
    assert "error" not in answer, answer
    return answer["response"]


def fetch(sim: Simulator, backup_id: str, node: int = 0, **kwargs: object):
    return download(
        sim.endpoints[node],
        sim.ca_cert,
        sim.controller_model_uuid,
        sim.username,
        sim.password,
        backup_id,
        **kwargs,  # pyright: ignore[reportArgumentType]
    )


@pytest.mark.parametrize("version", ["2.9.22", "2.9.60", "3.6.27"])
def test_download_is_streamed_verified_and_one_shot(make_sim: MakeSim, version: str):
    sim = make_sim(version, archive_size=300 << 10)
    meta = create(sim)
    got = fetch(sim, meta["filename"])
    assert got.status == 200
    assert got.headers["content-type"] == "application/octet-stream"
    assert "content-length" not in got.headers
    assert got.headers["transfer-encoding"] == "chunked"
    assert len(got.body) == meta["size"]
    assert b64sha1(got.body) == meta["checksum"]
    with tarfile.open(fileobj=io.BytesIO(got.body), mode="r:gz") as tar:
        names = tar.getnames()
    assert "juju-backup/metadata.json" in names
    assert "juju-backup/root.tar" in names
    assert any(n.startswith("juju-backup/dump/") for n in names)
    # The controller deleted the file when it opened it: a second download fails.
    assert not Path(meta["filename"]).exists()
    again = fetch(sim, meta["filename"])
    assert again.status == 500
    assert again.json() == {
        "message": f'backup file "{meta["filename"]}" not valid',
        "code": "not valid",
    }


def test_download_from_another_ha_node_fails(make_sim: MakeSim):
    sim = make_sim("3.6.27", ha=3, archive_size=64 << 10)
    meta = create(sim, node=1)
    assert meta["ha-nodes"] == 3
    assert meta["machine"] == "1"
    assert Path(meta["filename"]).parent == sim.backup_dir(1)
    wrong = fetch(sim, meta["filename"], node=0)
    assert wrong.status == 500
    assert wrong.json()["message"] == f'backup file "{meta["filename"]}" not valid'
    assert Path(meta["filename"]).exists()
    right = fetch(sim, meta["filename"], node=1)
    assert right.status == 200
    assert b64sha1(right.body) == meta["checksum"]


def test_paths_outside_the_backup_dir_are_not_valid(make_sim: MakeSim, tmp_path: Path):
    sim = make_sim("3.6.27", archive_size=64 << 10)
    meta = create(sim)
    outside = tmp_path / Path(meta["filename"]).name
    outside.write_bytes(b"x")
    for bad in (str(outside), Path(meta["filename"]).name, "../" + Path(meta["filename"]).name):
        got = fetch(sim, bad)
        assert got.status == 500
        assert got.json()["code"] == "not valid"
    assert outside.exists()
    assert Path(meta["filename"]).exists()


def test_two_creates_in_one_second_collide(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=64 << 10)
    moment = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    sim.set_clock(lambda: moment)
    first = create(sim)
    second = create(sim)
    assert first["filename"] == second["filename"]
    assert first["id"] == second["id"]
    assert first["checksum"] != second["checksum"]
    got = fetch(sim, first["filename"])
    # The second archive replaced the first: its bytes are what the file holds now.
    assert b64sha1(got.body) == second["checksum"]


@pytest.mark.parametrize("keep_copy", [True, False])
def test_28_download_by_backup_id(make_sim: MakeSim, keep_copy: bool):
    sim = make_sim("2.8.11", archive_size=64 << 10)
    meta = create(sim, **{"keep-copy": keep_copy})
    first = fetch(sim, meta["id"])
    assert first.status == 200
    assert b64sha1(first.body) == meta["checksum"]
    second = fetch(sim, meta["id"])
    if keep_copy:
        # Kept in the controller's store: it can be fetched again, from any machine.
        assert b64sha1(second.body) == meta["checksum"]
    else:
        assert second.status == 404
        assert second.json() == {
            "message": f'backup metadata "{meta["id"]}" not found',
            "code": "not found",
        }


def test_23_download_by_backup_id(make_sim: MakeSim):
    sim = make_sim("2.3.4", archive_size=64 << 10)
    meta = create(sim)
    got = fetch(sim, meta["id"])
    assert got.status == 200
    assert b64sha1(got.body) == meta["checksum"]


def test_wrong_content_type_is_refused_and_recorded(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=64 << 10)
    meta = create(sim)
    got = fetch(sim, meta["filename"], content_type="application/json; charset=utf-8")
    assert got.status == 500
    assert got.json()["message"] == (
        'expected Content-Type "application/json", got "application/json; charset=utf-8"'
    )
    assert Path(meta["filename"]).exists()
    assert len(sim.violations) == 1
    assert "Content-Type" in sim.violations[0]
    sim.violations.clear()


def test_download_authentication(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=64 << 10)
    sim.add_user("bob", "bob-secret")
    meta = create(sim)
    path = f"/model/{sim.controller_model_uuid}/backups"
    body = b'{"id": "%s"}' % meta["filename"].encode()

    def get(headers: dict[str, str], model_path: str = path):
        headers = {"Content-Type": "application/json", **headers}
        return http_request(
            sim.endpoints[0], sim.ca_cert, "GET", model_path, headers=headers, body=body
        )

    wrong = get({"Authorization": basic_auth(sim.username, "wrong")})
    none = get({})
    bob = get({"Authorization": basic_auth("bob", "bob-secret")})
    unknown_model = get(
        {"Authorization": basic_auth(sim.username, sim.password)},
        "/model/00000000-0000-4000-8000-000000000000/backups",
    )
    assert (wrong.status, wrong.json()) == (
        401,
        {"message": "invalid entity name or password", "code": "unauthorized access"},
    )
    assert none.status == 401
    assert (bob.status, bob.json()["message"]) == (401, "permission denied")
    assert unknown_model.status == 404
    assert unknown_model.json()["code"] == "model not found"
    assert Path(meta["filename"]).exists()
    post = http_request(
        sim.endpoints[0],
        sim.ca_cert,
        "POST",
        path,
        headers={"Authorization": basic_auth(sim.username, sim.password)},
        body=b"",
    )
    assert post.status == 405


def test_28_upload_then_list_and_download(make_sim: MakeSim):
    sim = make_sim("2.8.11", archive_size=64 << 10)
    payload = b"an archive made elsewhere" * 1000
    metadata = {
        "checksum": b64sha1(payload),
        "checksum-format": "SHA-1, base64 encoded",
        "size": len(payload),
        "started": "2024-05-06T07:08:09Z",
        "finished": "2024-05-06T07:09:00Z",
        "notes": "uploaded",
        "model": sim.controller_model_uuid,
        "machine": "0",
        "hostname": "juju-old-0",
        "version": "2.8.10",
        "series": "bionic",
    }
    answer = upload(
        sim.endpoints[0],
        sim.ca_cert,
        sim.controller_model_uuid,
        sim.username,
        sim.password,
        metadata,
        payload,
    )
    assert answer.status == 200, answer.body
    backup_id = answer.json()["id"]
    assert backup_id == f"20240506-070809.{sim.controller_model_uuid}"
    assert sim.stored_backups[backup_id]["notes"] == "uploaded"
    with RawRpc(sim.endpoints[0], sim.ca_cert, sim.controller_model_uuid) as rpc:
        rpc.login(sim.username, sim.password)
        listed = rpc.call("Backups", 2, "List", {})
    assert [m["id"] for m in listed["response"]["list"]] == [backup_id]
    got = fetch(sim, backup_id)
    assert got.body == payload


def test_upload_is_refused_with_an_id_or_from_29(make_sim: MakeSim):
    old = make_sim("2.8.11")
    new = make_sim("2.9.60")
    args = (old.controller_model_uuid, old.username, old.password, {"id": "given"}, b"x")
    with_id = upload(old.endpoints[0], old.ca_cert, *args)
    assert (with_id.status, with_id.json()["message"]) == (500, "got unexpected metadata ID")
    refused = upload(
        new.endpoints[0],
        new.ca_cert,
        new.controller_model_uuid,
        new.username,
        new.password,
        {"notes": ""},
        b"x",
    )
    assert refused.status == 500
    assert refused.json()["code"] == "not supported"


def test_download_without_a_body_is_refused_and_recorded(make_sim: MakeSim):
    sim = make_sim("3.6.27", archive_size=64 << 10)
    meta = create(sim)
    got = http_request(
        sim.endpoints[0],
        sim.ca_cert,
        "GET",
        f"/model/{sim.controller_model_uuid}/backups",
        headers={
            "Authorization": basic_auth(sim.username, sim.password),
            "Content-Type": "application/json",
        },
    )
    assert got.status == 500
    assert got.json()["message"] == "while de-serializing args: unexpected end of JSON input"
    assert Path(meta["filename"]).exists()
    assert any("not JSON" in v for v in sim.violations)
    sim.violations.clear()
