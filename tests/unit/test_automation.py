"""automation: what a related application learns of its requested backups."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from charms.juju_backups.v0.backups import BackupRequest

import automation
import service
from catalogue import Entry

WHEN = datetime(2026, 12, 4, 15, 19, tzinfo=timezone.utc)


def entry() -> Entry:
    return Entry(
        id="20261204-151900.6f8e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        archive=Path("/srv/a.tar.gz"),
        metadata={},
        size=1536,
        started=WHEN,
        stored_at=WHEN,
        application="juju-backups",
        trigger="manual",
        source="10.0.0.1:17070",
    )


def request(notes: str = "", reason: str = "") -> BackupRequest:
    return BackupRequest(
        relation_id=1,
        app_name="app",
        request_id="r1",
        notes=notes,
        reason=reason,
        requested_at=None,
        received_at=None,
        status="pending",
    )


def test_last_backup_of() -> None:
    last = automation.last_backup_of(entry())
    assert (last.id, last.finished_at, last.size) == (entry().id, WHEN, 1536)


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (service.AccessDeniedError("10.0.0.1 denied"), "operator fixes its setup"),
        (service.UnavailableError("10.0.0.1 down"), "unreachable or busy"),
        (service.NotEnoughSpaceError("/srv full"), "not enough space"),
        (service.DownloadFailedError("bad"), "could not be downloaded"),
        (
            service.BackupFailedError("10.0.0.9 refused"),
            "the controller could not take the backup",
        ),
    ],
)
def test_relation_error_says_the_kind_not_the_details(
    error: service.ServiceError, says: str
) -> None:
    message = automation.relation_error(error)
    assert message.startswith("backup failed: ")
    assert says in message
    assert str(error) not in message


@pytest.mark.parametrize(
    ("notes", "reason", "text"),
    [
        ("", "", ""),
        ("before upgrade", "", "before upgrade"),
        ("", "upgrade", "(reason: upgrade)"),
        ("n", "r", "n (reason: r)"),
    ],
)
def test_requested_notes(notes: str, reason: str, text: str) -> None:
    assert automation.requested_notes(request(notes, reason)) == text
