"""Unit-side faults in one process: the storage fills up, cannot be written, is too small."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ops import testing

import atomicfile
from juju_api import transfer
from tests.faults.conftest import Record
from tests.faults.harness import (
    Charm,
    SharedStorageContext,
    losses,
    lost_text,
    sim_credentials,
    state,
)
from tests.jujusim import Simulator

Start = Callable[..., Simulator]


class FullDisk:
    """The os module, except that write() fails with ENOSPC once `room` bytes are written."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: Any) -> int:
        size = len(data)
        if size > self.room:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= size
        return os.write(fd, data)


def take_one(charm: Charm, sim: Simulator) -> tuple[str, testing.State]:
    first = charm.action("create-backup", state(sim_credentials(sim)))
    assert first.ok, first.message
    assert first.results is not None
    return first.results["backup-id"], first.state


def later(sim: Simulator) -> None:
    import datetime

    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    sim.set_clock(lambda: when)


def test_storage_fills_during_the_download(
    controller: Start, charm: Charm, record: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = controller("3.6.27", archive_size=1 << 20)
    earlier, after_first = take_one(charm, sim)
    later(sim)
    disk = FullDisk(room=300_000)
    monkeypatch.setattr(transfer, "os", disk)

    run = charm.action("create-backup", after_first)

    assert disk.refused == 1  # the fault really hit the download
    assert not run.ok
    assert "No space left on device" in run.message
    assert "archives storage" in run.message
    assert "nothing was kept" in run.message
    assert "this backup is lost: run create-backup again" in run.message
    assert list(sim.backup_dir(0).iterdir()) == []  # the controller's copy went, as said
    assert isinstance(run.status, testing.ActiveStatus)
    assert [e.id for e in charm.catalogue().list()] == [earlier]
    found = losses(charm.root(), kept_before=[earlier])
    record(
        "storage full during the download (ENOSPC after 300 kB)",
        run.describe(),
        lost_text(found, "that new backup (3.x deletes it once the download starts; said)"),
    )
    assert found == []


def test_storage_fills_while_writing_the_metadata(
    controller: Start, charm: Charm, record: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = controller("2.8.11")
    earlier, after_first = take_one(charm, sim)
    later(sim)
    disk = FullDisk(room=0)
    # The metadata file is written by atomicfile.write_atomically.
    monkeypatch.setattr(atomicfile, "os", disk)

    run = charm.action("create-backup", after_first, **{"keep-copy": True})

    assert disk.refused >= 1
    assert not run.ok
    assert "was downloaded and verified but could not be recorded" in run.message
    assert "No space left on device" in run.message
    assert [e.id for e in charm.catalogue().list()] == [earlier]
    found = losses(charm.root(), kept_before=[earlier])
    record(
        "storage full while writing the metadata (2.8, keep-copy)",
        run.describe(),
        lost_text(found),
    )
    assert found == []
    assert len(sim.stored_backups) == 1  # the controller kept the copy asked for


@pytest.fixture
def tiny_storage(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("a tmpfs cannot be mounted here (needs root)")
    yield mount / "archives"
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_storage_smaller_than_the_archive(
    controller: Start, exposure: Any, record: Record, tiny_storage: Path
) -> None:
    sim = controller("2.9.60", archive_size=2 << 20)
    charm = Charm(exposure, SharedStorageContext(tiny_storage))

    run = charm.action("create-backup", state(sim_credentials(sim)))

    assert not run.ok
    assert run.message.startswith(f"not enough space on the archives storage ({tiny_storage})")
    assert "Nothing was downloaded" in run.message
    assert not any(c.method == "GET backups" for c in sim.calls)
    (left,) = list(sim.backup_dir(0).iterdir())  # still on the controller, as the message says
    assert left.name in run.message
    found = losses(tiny_storage)
    record("storage smaller than the archive (a real 4 MiB tmpfs)", run.describe(), "no")
    assert found == []


def test_storage_not_attached(controller: Start, charm: Charm, record: Record) -> None:
    sim = controller()
    secret = sim_credentials(sim)
    detached = testing.State(
        config={"credentials": secret.id}, secrets=[secret], leader=True, storages=[]
    )

    run = charm.action("create-backup", detached)

    assert not run.ok
    assert run.message == "waiting for the archives storage to be attached"
    assert isinstance(run.status, testing.WaitingStatus)
    assert sim.calls == []
    record("storage not attached", run.describe(), "no")


@pytest.mark.parametrize("version", ["2.8.11", "3.6.27"])
def test_two_backups_in_the_same_second(
    controller: Start, charm: Charm, record: Record, version: str
) -> None:
    # Juju names backups by the second they start: a second backup in that second gets the
    # same id (2.x) or file name (3.x). The archive already kept must not be replaced.
    import datetime

    sim = controller(version)
    now = datetime.datetime.now(datetime.timezone.utc)
    sim.set_clock(lambda: now)
    earlier, after_first = take_one(charm, sim)
    (kept,) = charm.catalogue().list()
    kept_bytes = kept.archive.read_bytes()

    run = charm.action("create-backup", after_first, notes="the second one")

    assert not run.ok
    assert f"backup {earlier} is already on this unit's storage" in run.message
    (still,) = charm.catalogue().list()
    assert still.archive.read_bytes() == kept_bytes
    assert still.metadata["notes"] == kept.metadata["notes"]
    found = losses(charm.root(), kept_before=[earlier])
    record(
        f"a second backup in the same second, same id ({version})",
        run.describe(),
        lost_text(found),
    )
    assert found == []
