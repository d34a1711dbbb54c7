"""service.BackupService without the charm, against the simulated controller."""

from __future__ import annotations

from pathlib import Path

import pytest

import service
from catalogue import Catalogue
from service import (
    AccessDeniedError,
    BackupService,
    ControllerAccess,
    DownloadFailedError,
    NotEnoughSpaceError,
    UnavailableError,
    UnsupportedControllerError,
)
from tests.conftest import MakeSim
from tests.jujusim import Simulator


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RETRY_BACKOFF", 0.0)


def access(sim: Simulator, **override: object) -> ControllerAccess:
    values: dict[str, object] = {
        "endpoints": sim.endpoints,
        "ca_cert": sim.ca_cert,
        "username": sim.username,
        "password": sim.password,
    }
    values.update(override)
    return ControllerAccess(**values)  # pyright: ignore[reportArgumentType]


def make_service(
    sim: Simulator, root: Path, log: list[str] | None = None, **override: object
) -> BackupService:
    root.mkdir(parents=True, exist_ok=True)
    return BackupService(
        access(sim, **override),
        Catalogue(root),
        application="juju-backups",
        lock_path=root / ".lock",
        timeout=10,
        create_timeout=60,
        log=(log.append if log is not None else lambda _m: None),
    )


@pytest.mark.parametrize("version", ["2.3.4", "2.8.11", "2.9.22", "2.9.60", "3.6.27"])
def test_check_finds_the_controller_model(make_sim: MakeSim, tmp_path: Path, version: str) -> None:
    sim = make_sim(version)

    found = make_service(sim, tmp_path).check()

    assert found.server_version == version
    assert found.endpoint == sim.endpoints[0]
    assert found.model_uuid == sim.controller_model_uuid
    assert not any(c.method == "Create" for c in sim.calls)


@pytest.mark.parametrize("version", ["2.3.4", "2.8.11", "2.9.22", "3.6.27"])
def test_create_catalogues_a_verified_archive(
    make_sim: MakeSim, tmp_path: Path, version: str
) -> None:
    sim = make_sim(version, archive_size=3 << 20)
    log: list[str] = []

    entry = make_service(sim, tmp_path, log).create("nightly", trigger="scheduled")

    catalogue = Catalogue(tmp_path)
    assert catalogue.list() == [entry]
    assert catalogue.verify(entry.id)
    assert entry.trigger == "scheduled"
    assert entry.application == "juju-backups"
    assert entry.source == sim.endpoints[0]
    assert entry.metadata["notes"] == "nightly"
    assert entry.size == entry.metadata["size"]
    assert log[0] == f"creating backup on controller {version} at {sim.endpoints[0]}"
    assert log[-1] == "checksum verified"
    # About 3 MiB in 1 MiB chunks: a line per chunk, since each passes a 10% step.
    progress = [int(line.split()[1][:-1]) for line in log if line.endswith("%")]
    assert len(progress) == 3
    assert progress == sorted(progress)
    assert progress[-1] == 100


def test_configured_model_uuid_is_used_as_is(make_sim: MakeSim, tmp_path: Path) -> None:
    sim = make_sim("3.6.27")

    make_service(sim, tmp_path, model_uuid=sim.controller_model_uuid).create("")

    assert not any(c.method == "ListModels" for c in sim.calls)


def test_a_model_that_is_not_the_controller_model(make_sim: MakeSim, tmp_path: Path) -> None:
    sim = make_sim("3.6.27")

    with pytest.raises(service.ServiceError) as raised:
        make_service(sim, tmp_path, model_uuid=sim.default_model_uuid).create("")

    assert isinstance(raised.value, service.WrongModelError)
    assert raised.value.blocked
    assert str(raised.value) == (
        "the controller refused: backups are only supported from the controller model. "
        "controller-model-uuid must be the controller model's UUID (`juju show-model "
        "controller`), or empty"
    )
    assert Catalogue(tmp_path).list() == []


def test_a_failed_endpoint_is_skipped(make_sim: MakeSim, tmp_path: Path) -> None:
    sim = make_sim("3.6.27", ha=2)
    sim_dead = make_sim("3.6.27")
    dead = sim_dead.endpoints[0]
    sim_dead.stop()

    entry = make_service(sim, tmp_path, endpoints=[dead, *sim.endpoints]).create("")

    assert entry.source == sim.endpoints[0]


def test_error_kinds(make_sim: MakeSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = make_sim("3.6.27")
    sim.add_user("reader", "reader-Pa55")

    with pytest.raises(AccessDeniedError) as denied:
        make_service(sim, tmp_path, username="reader", password="reader-Pa55").create("")
    assert denied.value.blocked
    assert not denied.value.retryable

    sim.kubernetes = True
    with pytest.raises(UnsupportedControllerError) as k8s:
        make_service(sim, tmp_path).check()
    assert k8s.value.blocked
    sim.kubernetes = False

    sim_dead = make_sim("3.6.27")
    dead = sim_dead.endpoints
    sim_dead.stop()
    with pytest.raises(UnavailableError) as unreachable:
        make_service(sim, tmp_path, endpoints=dead).create("")
    assert unreachable.value.retryable
    assert not unreachable.value.blocked

    monkeypatch.setattr(Catalogue, "free_bytes", lambda self: 0)
    with pytest.raises(NotEnoughSpaceError) as space:
        make_service(sim, tmp_path).create("")
    assert not space.value.blocked
    assert not space.value.retryable
    monkeypatch.undo()

    sim.download_fault(truncate_at=1000)
    with pytest.raises(DownloadFailedError):
        make_service(sim, tmp_path).create("")
    assert [p.name for p in tmp_path.iterdir() if p.name != ".lock"] == []


def test_access_repr_hides_the_password(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")

    assert sim.password not in repr(access(sim))
    assert sim.username in repr(access(sim))
