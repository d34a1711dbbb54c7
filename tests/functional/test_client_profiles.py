"""juju_api against the simulated controller of every Juju generation: what each one serves."""

from __future__ import annotations

import datetime
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import juju_api
from juju_api import Backups, Connection
from juju_api import errors as e
from tests.conftest import MakeSim
from tests.jujusim import KNOWN_VERSIONS, Simulator

ARCHIVE = 256 << 10
CAPABILITIES = {
    "2.3.4": {"create", "info", "list", "remove", "prepare-restore", "restore", "finish-restore"},
    "2.8.11": {
        "create",
        "info",
        "list",
        "remove",
        "prepare-restore",
        "restore",
        "finish-restore",
        "upload",
        "keep-copy",
        "no-download",
    },
    "2.9.22": {"create"},
    "2.9.60": {"create"},
    "3.6.27": {"create"},
    "4.0.14": set(),
}
FACADE_VERSION = {"2.3.4": 1, "2.8.11": 2, "2.9.22": 2, "2.9.60": 3, "3.6.27": 3, "4.0.14": 3}
METHOD_CALLS = {
    "info": ("Info", lambda b: b.info("20240101-000000.x")),
    "list": ("List", lambda b: b.list()),
    "remove": ("Remove", lambda b: b.remove(["20240101-000000.x"])),
    "prepare-restore": ("PrepareRestore", lambda b: b.prepare_restore()),
    "restore": ("Restore", lambda b: b.restore("20240101-000000.x")),
    "finish-restore": ("FinishRestore", lambda b: b.finish_restore()),
}


class Clock:
    """A controller clock that moves one second per reading: backup ids never collide."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        self.now += datetime.timedelta(seconds=1)
        return self.now


def start(make_sim: MakeSim, version: str, **kw: object) -> Simulator:
    sim = make_sim(version, archive_size=kw.pop("archive_size", ARCHIVE), **kw)
    sim.set_clock(Clock())
    return sim


@pytest.fixture
def model_conn() -> Iterator[list[Connection]]:
    opened: list[Connection] = []
    yield opened
    for conn in opened:
        conn.close()


def connect_controller_model(sim: Simulator, opened: list[Connection] | None = None) -> Connection:
    """The charm's flow: a controller login to find the model, then a model login."""
    with juju_api.connect(sim.endpoints, sim.ca_cert, sim.username, sim.password) as ctl:
        model = juju_api.find_controller_model(ctl)
    conn = juju_api.connect(
        sim.endpoints, sim.ca_cert, sim.username, sim.password, model_uuid=model.uuid
    )
    if opened is not None:
        opened.append(conn)
    return conn


def backups_calls(sim: Simulator) -> list[str]:
    return [c.method for c in sim.calls if c.facade == "Backups"]


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_login_and_find_the_controller_model(make_sim: MakeSim, version: str):
    sim = start(make_sim, version, ha=2)
    with juju_api.connect(sim.endpoints, sim.ca_cert, sim.username, sim.password) as ctl:
        assert ctl.server_version == version
        assert ctl.controller_uuid == sim.controller_uuid
        assert ctl.model_uuid is None
        assert ctl.endpoint == sim.endpoints[0]
        assert ctl.servers == sim.endpoints
        assert ctl.controller_access == "superuser"
        assert "Backups" not in ctl.facades  # only on a model connection
        with pytest.raises(e.UnsupportedByController, match="controller model"):
            Backups(ctl)
        ctl.ping()
        model = juju_api.find_controller_model(ctl)
        assert model.uuid == sim.controller_model_uuid
        assert model.type == "iaas"
        assert "admin" in (model.owner, model.qualifier)
        names = sorted(m.name for m in ctl.list_models())
        assert names == ["controller", "default"]
    with juju_api.connect(
        sim.endpoints, sim.ca_cert, sim.username, sim.password, model_uuid=model.uuid
    ) as conn:
        assert conn.model_uuid == sim.controller_model_uuid
        assert conn.model_access == "admin"
        b = Backups(conn)
        assert b.version == FACADE_VERSION[version]
        assert b.capabilities == frozenset(CAPABILITIES[version])
        conn.ping()
        with pytest.raises(e.UnsupportedByController):
            conn.list_models()  # ModelManager is a controller facade


@pytest.mark.parametrize("version", [v for v in KNOWN_VERSIONS if CAPABILITIES[v]])
def test_create_download_and_verify(
    make_sim: MakeSim, version: str, tmp_path: Path, model_conn: list[Connection]
):
    sim = start(make_sim, version)
    conn = connect_controller_model(sim, model_conn)
    b = Backups(conn)
    meta = b.create("nightly: all is well", timeout=60)
    assert meta.notes == "nightly: all is well"
    assert meta.version == version
    assert meta.model == sim.controller_model_uuid
    assert meta.checksum_format == "SHA-1, base64 encoded"
    assert "PRIVATE KEY" not in repr(meta) + str(meta.to_wire())
    assert sim.ca_private_key_marker not in repr(meta) + str(meta.to_wire())
    if version >= "2.9.22":
        assert meta.stored is None
        assert meta.filename is not None
        assert Path(meta.filename).parent == sim.backup_dir(0)
    seen: list[int] = []
    dest = tmp_path / "archive.tar.gz"
    result = conn.download(
        b.download_id(meta),
        dest,
        expected_checksum=meta.checksum,
        expected_size=meta.size,
        progress=lambda n, _total: seen.append(n),
    )
    assert result == juju_api.DownloadResult(dest, meta.size, meta.checksum)
    assert seen[-1] == meta.size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.tar.gz"]
    with tarfile.open(dest) as tar:
        names = tar.getnames()
        assert "juju-backup/metadata.json" in names
        assert "juju-backup/root.tar" in names
        member = tar.extractfile("juju-backup/metadata.json")
        assert member is not None
        inside = json.loads(member.read())
    assert inside["Notes"] == meta.notes
    # The request went where and how the real protocol says.
    http = [c for c in sim.calls if c.facade == "HTTP"]
    assert [c.params["id"] for c in http] == [b.download_id(meta)]


@pytest.mark.parametrize("version", ["2.9.22", "2.9.60", "3.6.27"])
def test_a_file_archive_downloads_only_once(
    make_sim: MakeSim, version: str, tmp_path: Path, model_conn: list[Connection]
):
    sim = start(make_sim, version)
    conn = connect_controller_model(sim, model_conn)
    b = Backups(conn)
    meta = b.create()
    first = conn.download(b.download_id(meta), tmp_path / "a", expected_checksum=meta.checksum)
    assert first.size == meta.size
    assert not Path(meta.filename or "").exists()
    with pytest.raises(e.DownloadError) as exc:
        conn.download(b.download_id(meta), tmp_path / "b", expected_checksum=meta.checksum)
    assert exc.value.status == 500
    assert "not valid" in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_refusals_before_sending(
    make_sim: MakeSim, version: str, tmp_path: Path, model_conn: list[Connection]
):
    sim = start(make_sim, version)
    conn = connect_controller_model(sim, model_conn)
    b = Backups(conn)
    refused = 0
    for capability, (_method, call) in METHOD_CALLS.items():
        if capability in b.capabilities:
            continue
        with pytest.raises(e.UnsupportedByController) as exc:
            call(b)
        assert f"Juju {version}" in str(exc.value)
        assert f"v{b.version}" in str(exc.value)
        refused += 1
    if "create" not in b.capabilities:
        with pytest.raises(e.UnsupportedByController, match="Dqlite"):
            b.create()
        refused += 1
    if "keep-copy" not in b.capabilities and b.version >= 2 and "create" in b.capabilities:
        with pytest.raises(e.UnsupportedByController, match="keep a copy"):
            b.create(keep_copy=True)
        refused += 1
    if "upload" not in b.capabilities:
        archive = tmp_path / "a.tar.gz"
        archive.write_bytes(b"x")
        meta = juju_api.BackupMetadata.from_wire(
            {
                "id": "x",
                "checksum": "c",
                "checksum-format": "f",
                "size": 1,
                "stored": None,
                "started": None,
                "finished": None,
                "notes": "",
                "model": "m",
                "machine": "0",
                "hostname": "h",
                "version": version,
            }
        )
        with pytest.raises(e.UnsupportedByController, match="upload"):
            juju_api.upload_backup(conn, archive, meta)
        refused += 1
    expected = {"2.3.4": 1, "2.8.11": 0, "4.0.14": 8}.get(version, 8)
    assert refused == expected
    assert backups_calls(sim) == []  # nothing reached the controller


@pytest.mark.parametrize(
    ("version", "method", "params", "error", "text"),
    [
        ("2.9.22", "List", {}, e.NotSupported, "stored in the controller database"),
        ("2.9.22", "Restore", {"backup-id": "x"}, e.APIError, "juju-restore"),
        ("2.9.60", "Info", {"id": "x"}, e.NotSupported, "stored in the controller database"),
        ("3.6.27", "List", {}, e.NotImplementedByController, "Backups(3).List"),
        (
            "4.0.14",
            "Create",
            {"notes": "", "no-download": False},
            e.NotImplementedByController,
            "Dqlite",
        ),
    ],
)
def test_the_controller_really_refuses_what_the_client_refuses(
    make_sim: MakeSim,
    version: str,
    method: str,
    params: dict[str, object],
    error: type[e.APIError],
    text: str,
    model_conn: list[Connection],
):
    """Bypass the client's refusal with a raw call: the simulator answers as the release does."""
    sim = start(make_sim, version)
    conn = connect_controller_model(sim, model_conn)
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        conn.call("Backups", method, params)


def test_backups_only_on_the_controller_model(make_sim: MakeSim):
    sim = start(make_sim, "3.6.27")
    with (
        juju_api.connect(
            sim.endpoints,
            sim.ca_cert,
            sim.username,
            sim.password,
            model_uuid=sim.default_model_uuid,
        ) as conn,
        pytest.raises(e.APIError, match="only supported from the controller model"),
    ):
        Backups(conn).create()


def test_unknown_model_is_not_found(make_sim: MakeSim):
    sim = start(make_sim, "3.6.27")
    with pytest.raises(e.NotFound, match="unknown model"):
        juju_api.connect(
            sim.endpoints,
            sim.ca_cert,
            sim.username,
            sim.password,
            model_uuid="00000000-0000-4000-8000-000000000000",
        )
