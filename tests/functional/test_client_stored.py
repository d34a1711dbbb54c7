"""juju_api against 2.x controllers that keep backups: list, remove, upload, restore."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import juju_api
from juju_api import Backups, Connection
from juju_api import errors as e
from tests.conftest import MakeSim
from tests.jujusim import Simulator

from .test_client_profiles import Clock

ARCHIVE = 128 << 10
STORING = ["2.3.4", "2.8.11"]


def start(make_sim: MakeSim, version: str) -> Simulator:
    sim = make_sim(version, archive_size=ARCHIVE)
    sim.set_clock(Clock())
    return sim


@pytest.fixture
def opened() -> Iterator[list[Connection]]:
    conns: list[Connection] = []
    yield conns
    for conn in conns:
        conn.close()


def model_connect(sim: Simulator, opened: list[Connection]) -> Connection:
    conn = juju_api.connect(
        sim.endpoints,
        sim.ca_cert,
        sim.username,
        sim.password,
        model_uuid=sim.controller_model_uuid,
    )
    opened.append(conn)
    return conn


def reconnect_after_restart(sim: Simulator, opened: list[Connection]) -> Connection:
    """Log in again once the restarted controller lets logins through."""
    for _ in range(100):
        try:
            return model_connect(sim, opened)
        except (e.RestoreInProgress, e.ConnectionFailed):
            time.sleep(0.05)
    raise AssertionError("the controller never came back")


@pytest.mark.parametrize("version", STORING)
def test_kept_backups_are_listed_shown_downloaded_and_removed(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path, version: str
):
    sim = start(make_sim, version)
    conn = model_connect(sim, opened)
    b = Backups(conn)
    kept = b.create("kept", keep_copy=True)
    other = b.create("also kept", keep_copy=True)
    assert kept.stored is not None
    assert set(sim.stored_backups) == {kept.id, other.id}
    assert [m.id for m in b.list()] == [kept.id, other.id]
    shown = b.info(kept.id)
    assert (shown.id, shown.checksum, shown.size, shown.notes) == (
        kept.id,
        kept.checksum,
        kept.size,
        "kept",
    )
    assert "PRIVATE KEY" not in repr(b.list()) + repr(shown)
    # A stored archive can be downloaded more than once, by its id.
    for name in ("a", "b"):
        result = conn.download(
            kept.id, tmp_path / name, expected_checksum=kept.checksum, expected_size=kept.size
        )
        assert result.checksum == kept.checksum
    results = b.remove([kept.id, "20200101-000000.unknown", other.id])
    assert [r.id for r in results] == [kept.id, "20200101-000000.unknown", other.id]
    assert results[0].error is None
    assert results[2].error is None
    assert isinstance(results[1].error, e.NotFound)
    assert "not found" in str(results[1].error)
    assert sim.stored_backups == {}
    assert b.list() == []
    with pytest.raises(e.NotFound):
        b.info(kept.id)


def test_v1_keeps_every_backup(make_sim: MakeSim, opened: list[Connection]):
    sim = start(make_sim, "2.3.4")
    conn = model_connect(sim, opened)
    b = Backups(conn)
    meta = b.create("no choice")
    assert meta.id in sim.stored_backups
    creates = [c for c in sim.calls if c.method == "Create"]
    assert creates[0].version == 1
    assert creates[0].params == {"notes": "no choice"}


def test_a_backup_not_kept_downloads_once(
    make_sim: MakeSim, opened: list[Connection], tmp_path: Path
):
    sim = start(make_sim, "2.8.11")
    conn = model_connect(sim, opened)
    b = Backups(conn)
    meta = b.create("not kept")
    assert sim.stored_backups == {}
    creates = [c.params for c in sim.calls if c.method == "Create"]
    assert creates == [{"notes": "not kept", "keep-copy": False, "no-download": False}]
    conn.download(meta.id, tmp_path / "a", expected_checksum=meta.checksum)
    with pytest.raises(e.DownloadError) as exc:
        conn.download(meta.id, tmp_path / "b", expected_checksum=meta.checksum)
    assert exc.value.status == 404
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_upload_on_2_8(make_sim: MakeSim, opened: list[Connection], tmp_path: Path):
    sim = start(make_sim, "2.8.11")
    conn = model_connect(sim, opened)
    b = Backups(conn)
    meta = b.create("to upload")
    archive = tmp_path / "archive.tar.gz"
    conn.download(meta.id, archive, expected_checksum=meta.checksum, expected_size=meta.size)
    new_id = juju_api.upload_backup(conn, archive, meta)
    uploaded = b.info(new_id)
    assert uploaded.checksum == meta.checksum
    assert uploaded.size == meta.size
    assert new_id in sim.stored_backups
    assert [c.method for c in sim.calls if c.facade == "HTTP"][-1] == "PUT backups"


@pytest.mark.parametrize("version", STORING)
def test_restore_sequence(make_sim: MakeSim, opened: list[Connection], version: str):
    sim = start(make_sim, version)
    sim.restore_downtime = 0.2
    conn = model_connect(sim, opened)
    b = Backups(conn)
    kept = b.create("restore me", keep_copy=True)
    b.prepare_restore()
    assert sim.restore_status == "PENDING"
    # While a restore is pending, a new connection may restore but do little else.
    pending = Backups(model_connect(sim, opened))
    with pytest.raises(e.RestoreInProgress, match="juju restore is in progress"):
        pending.list()
    pending.restore(kept.id)  # the controller restarts: the dropped connection is success
    assert pending.conn.closed
    after = Backups(reconnect_after_restart(sim, opened))
    after.finish_restore()
    assert sim.restore_status == "CHECKED"
    methods = [c.method for c in sim.calls if c.facade == "Backups"]
    assert methods[-4:] == ["PrepareRestore", "List", "Restore", "FinishRestore"]
    restore = next(c for c in sim.calls if c.method == "Restore")
    assert restore.params == {"backup-id": kept.id}


def test_a_failed_restore_is_reported_by_finish_restore(
    make_sim: MakeSim, opened: list[Connection]
):
    sim = start(make_sim, "2.8.11")
    sim.restore_downtime = 0.2
    sim.restore_fails = True
    b = Backups(model_connect(sim, opened))
    kept = b.create("restore me", keep_copy=True)
    b.prepare_restore()
    b.restore(kept.id)
    after = Backups(reconnect_after_restart(sim, opened))
    with pytest.raises(e.APIError, match="Restore did not finish successfully"):
        after.finish_restore()


def test_restoring_an_unknown_backup_fails(make_sim: MakeSim, opened: list[Connection]):
    sim = start(make_sim, "2.8.11")
    b = Backups(model_connect(sim, opened))
    b.prepare_restore()
    b2 = Backups(model_connect(sim, opened))
    with pytest.raises(e.NotFound, match="not found"):
        b2.restore("20200101-000000.unknown")
    assert not b2.conn.closed
