"""restore: the state kept between hooks, and the refusal of controllers that cannot restore."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

import pytest

import restore
from restore import RestoreState, RestoreStateError, read_state

WHEN = datetime.datetime(2026, 12, 4, 15, 19, tzinfo=datetime.timezone.utc)
STATE = RestoreState(
    backup_id="20261204-151900.6f8e1c2a",
    controller_id="20261204-151901.6f8e1c2a",
    step=restore.UPLOADED,
    model_uuid="6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
    controller_version="2.8.11",
    started_at=WHEN,
    uploaded=True,
)


def test_state_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / restore.STATE_FILE
    path.write_bytes(STATE.to_json())

    assert read_state(path) == STATE
    assert json.loads(path.read_text()) == {
        "format": 1,
        "backup-id": "20261204-151900.6f8e1c2a",
        "controller-id": "20261204-151901.6f8e1c2a",
        "step": "uploaded",
        "model-uuid": "6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "controller-version": "2.8.11",
        "started-at": "2026-12-04T15:19:00Z",
        "uploaded": True,
    }


def test_no_state_file_means_no_restore(tmp_path: Path) -> None:
    assert read_state(tmp_path / restore.STATE_FILE) is None


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b"[]",
        b'{"step": "restoring"}',
        json.dumps({**json.loads(STATE.to_json()), "step": "dancing"}).encode(),
        json.dumps({**json.loads(STATE.to_json()), "started-at": "yesterday"}).encode(),
        json.dumps({**json.loads(STATE.to_json()), "backup-id": 7}).encode(),
    ],
)
def test_a_damaged_state_file_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / restore.STATE_FILE
    path.write_bytes(content)

    with pytest.raises(RestoreStateError) as damaged:
        read_state(path)

    assert str(damaged.value).startswith(f"the restore state {path} is damaged (")


def test_an_unreadable_state_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / restore.STATE_FILE
    path.mkdir()

    with pytest.raises(RestoreStateError, match="cannot read the restore state"):
        read_state(path)


@pytest.mark.parametrize(
    ("step", "said"),
    [
        (restore.PREPARING, "while putting the controller in restore mode"),
        (restore.PREPARED, "after putting the controller in restore mode, before restoring"),
        (restore.UPLOADED, "after uploading the archive, before restoring"),
        (restore.RESTORING, "after asking the controller to restore"),
    ],
)
def test_describe_says_where_it_stopped(step: str, said: str) -> None:
    assert dataclasses.replace(STATE, step=step).describe() == (
        "restore of 20261204-151900.6f8e1c2a on controller 2.8.11 begun 2026-12-04T15:19:00Z "
        f"stopped {said}"
    )


@pytest.mark.parametrize("version", ["2.9.22", "2.9.60", "3.6.27"])
def test_refusal_names_juju_restore_and_the_archive(version: str) -> None:
    archive = Path("/var/lib/juju-backups/archives/x.tar.gz")

    text = restore._no_api_restore(version, archive, "juju-backups/2")

    assert text.startswith(f"controller {version} cannot restore through its API: ")
    assert "standalone juju-restore tool" in text
    assert f"The archive is on this unit at {archive}" in text
    assert f"juju scp juju-backups/2:{archive} ." in text
    assert "run juju-restore x.tar.gz there" in text


def test_juju_4_refusal_says_juju_restore_does_not_help() -> None:
    text = restore._no_api_restore("4.0.14", Path("/a/x.tar.gz"), "")

    assert "Dqlite" in text
    assert "neither the API nor the standalone juju-restore tool" in text
    assert text.endswith("The archive is on this unit at /a/x.tar.gz")
