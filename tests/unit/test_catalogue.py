"""The catalogue of archives on the unit's storage."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import catalogue
from catalogue import Catalogue, CatalogueError, Entry, InvalidBackupId, UnknownBackupError

UTC = timezone.utc
UUID = "6d1bd5e6-2e55-4b3e-8a34-5ab0c7a0c2f1"
ID = f"20261204-151900.{UUID}"
FILENAME_ID = "juju-backup-20261204-151900.tar.gz"
CA_KEY = "-----BEGIN RSA PRIVATE KEY-----\nRECOGNISABLE-CA-KEY\n-----END RSA PRIVATE KEY-----"
CA_CERT = "-----BEGIN CERTIFICATE-----\nRECOGNISABLE-CA-CERT\n-----END CERTIFICATE-----"


def sha1_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


def wire(data: bytes, *, started: str | None = "2026-12-04T15:19:00Z", **extra: Any) -> dict:
    meta: dict[str, Any] = {
        "id": ID,
        "checksum": sha1_b64(data),
        "checksum-format": "SHA-1, base64 encoded",
        "size": len(data),
        "stored": "0001-01-01T00:00:00Z",
        "finished": "2026-12-04T15:21:00Z",
        "notes": "scheduled backup",
        "model": UUID,
        "machine": "0",
        "hostname": "juju-0",
        "version": "3.6.27",
        "base": "ubuntu@24.04",
        "filename": f"/tmp/{FILENAME_ID}",
        "format-version": 1,
        "controller-uuid": UUID,
        "controller-machine-id": "0",
        "controller-machine-inst-id": "i-0",
        "ha-nodes": 1,
    }
    if started is not None:
        meta["started"] = started
    meta.update(extra)
    return meta


@pytest.fixture
def cat(tmp_path: Path) -> Catalogue:
    root = tmp_path / "archives"
    root.mkdir()
    return Catalogue(root)


def store(
    cat: Catalogue,
    backup_id: str = ID,
    data: bytes = b"archive bytes",
    *,
    started: str | None = "2026-12-04T15:19:00Z",
    stored_at: datetime | None = None,
    application: str = "juju-backups",
    trigger: str = "manual",
    extra: dict[str, Any] | None = None,
) -> Entry:
    cat.archive_path(backup_id).write_bytes(data)
    return cat.add(
        backup_id,
        wire(data, started=started, **(extra or {})),
        application=application,
        trigger=trigger,
        source="10.0.0.1:17070",
        stored_at=stored_at,
    )


def names(cat: Catalogue) -> list[str]:
    return sorted(p.name for p in cat.root.iterdir())


# --- ids and paths -------------------------------------------------------------------------


def test_paths_for_a_backup_id(cat: Catalogue) -> None:
    assert cat.archive_path(ID) == cat.root / f"{ID}.tar.gz"
    assert cat.metadata_path(ID) == cat.root / f"{ID}.json"


def test_paths_for_an_archive_file_name(cat: Catalogue) -> None:
    assert cat.archive_path(FILENAME_ID) == cat.root / FILENAME_ID
    assert cat.metadata_path(FILENAME_ID) == cat.root / "juju-backup-20261204-151900.json"


@pytest.mark.parametrize(
    "backup_id",
    [
        "",
        ".",
        "..",
        "../escape",
        "../../etc/passwd",
        "a/b",
        "/abs",
        ".hidden",
        "-option",
        "_under",
        "a b",
        "tab\tid",
        "new\nline",
        "nul\x00",
        "back\\slash",
        "é",
        "x" * 201,
        ".tar.gz",
    ],
)
def test_invalid_ids_are_refused(cat: Catalogue, backup_id: str) -> None:
    with pytest.raises(InvalidBackupId):
        cat.archive_path(backup_id)
    with pytest.raises(InvalidBackupId):
        cat.get(backup_id)
    with pytest.raises(InvalidBackupId):
        cat.remove(backup_id)


def test_an_id_of_200_characters_is_accepted(cat: Catalogue) -> None:
    backup_id = "a" * 200
    assert cat.archive_path(backup_id).name == backup_id + ".tar.gz"


def test_invalid_backup_id_is_a_value_error() -> None:
    assert issubclass(InvalidBackupId, ValueError)
    assert issubclass(InvalidBackupId, CatalogueError)


# --- add -----------------------------------------------------------------------------------


def test_add_writes_metadata_beside_the_archive(cat: Catalogue) -> None:
    stored_at = datetime(2026, 12, 4, 15, 22, 3, 500, tzinfo=UTC)
    entry = store(cat, data=b"0123456789", stored_at=stored_at, trigger="scheduled")
    record = json.loads(cat.metadata_path(ID).read_text())
    assert record == {
        "format": 1,
        "id": ID,
        "archive": f"{ID}.tar.gz",
        "application": "juju-backups",
        "trigger": "scheduled",
        "source": "10.0.0.1:17070",
        "stored-at": "2026-12-04T15:22:03.000500Z",
        "metadata": wire(b"0123456789"),
    }
    assert entry == Entry(
        id=ID,
        archive=cat.archive_path(ID),
        metadata=wire(b"0123456789"),
        size=10,
        started=datetime(2026, 12, 4, 15, 19, tzinfo=UTC),
        stored_at=stored_at,
        application="juju-backups",
        trigger="scheduled",
        source="10.0.0.1:17070",
    )
    assert names(cat) == [f"{ID}.json", f"{ID}.tar.gz"]


def test_add_drops_ca_material(cat: Catalogue) -> None:
    entry = store(cat, extra={"ca-cert": CA_CERT, "ca-private-key": CA_KEY})
    raw = cat.metadata_path(ID).read_text()
    assert "RECOGNISABLE-CA-KEY" not in raw
    assert "RECOGNISABLE-CA-CERT" not in raw
    assert "ca-private-key" not in raw
    assert "ca-cert" not in raw
    assert "ca-private-key" not in entry.metadata
    assert "ca-cert" not in entry.metadata
    assert entry.metadata["checksum"] == sha1_b64(b"archive bytes")


def test_add_does_not_change_the_callers_metadata(cat: Catalogue) -> None:
    cat.archive_path(ID).write_bytes(b"x")
    meta = wire(b"x", **{"ca-private-key": CA_KEY})
    cat.add(ID, meta, application="a", trigger="manual", source="s")
    assert meta["ca-private-key"] == CA_KEY


def test_add_stores_stored_at_now_by_default(cat: Catalogue) -> None:
    before = datetime.now(UTC)
    entry = store(cat)
    assert before <= entry.stored_at <= datetime.now(UTC)
    assert entry.stored_at.tzinfo is not None


def test_add_serialises_datetimes(cat: Catalogue) -> None:
    cat.archive_path(ID).write_bytes(b"x")
    meta = wire(b"x", started=None)
    meta["started"] = datetime(2026, 12, 4, 15, 19, tzinfo=UTC)
    entry = cat.add(ID, meta, application="a", trigger="manual", source="s")
    assert json.loads(cat.metadata_path(ID).read_text())["metadata"]["started"] == (
        "2026-12-04T15:19:00Z"
    )
    assert entry.started == datetime(2026, 12, 4, 15, 19, tzinfo=UTC)


def test_add_refuses_unserialisable_metadata(cat: Catalogue) -> None:
    cat.archive_path(ID).write_bytes(b"x")
    with pytest.raises(TypeError, match="object"):
        cat.add(ID, {"odd": object()}, application="a", trigger="manual", source="s")
    assert names(cat) == [f"{ID}.tar.gz"]


@pytest.mark.parametrize("field", ["application", "trigger", "source"])
def test_add_refuses_non_string_local_fields(cat: Catalogue, field: str) -> None:
    cat.archive_path(ID).write_bytes(b"x")
    local: dict[str, Any] = {"application": "a", "trigger": "manual", "source": "s", field: 5}
    with pytest.raises(TypeError, match=f"{field} must be a string"):
        cat.add(ID, wire(b"x"), **local)
    assert names(cat) == [f"{ID}.tar.gz"]


def test_list_of_missing_storage_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Catalogue(tmp_path / "not-attached").list()


def test_add_refuses_a_naive_stored_at(cat: Catalogue) -> None:
    cat.archive_path(ID).write_bytes(b"x")
    with pytest.raises(ValueError, match="timezone-aware"):
        cat.add(
            ID,
            wire(b"x"),
            application="a",
            trigger="manual",
            source="s",
            stored_at=datetime(2026, 1, 1),
        )


def test_add_needs_the_archive_in_place(cat: Catalogue) -> None:
    with pytest.raises(CatalogueError, match="is not at"):
        cat.add(ID, wire(b"x"), application="a", trigger="manual", source="s")
    assert names(cat) == []


def test_add_with_a_file_name_id(cat: Catalogue) -> None:
    entry = store(cat, FILENAME_ID)
    assert entry.id == FILENAME_ID
    assert entry.archive == cat.root / FILENAME_ID
    assert names(cat) == ["juju-backup-20261204-151900.json", FILENAME_ID]
    assert cat.get(FILENAME_ID) == entry


def test_add_replaces_existing_metadata(cat: Catalogue) -> None:
    store(cat, trigger="manual")
    entry = store(cat, trigger="scheduled")
    assert entry.trigger == "scheduled"
    assert [e.trigger for e in cat.list()] == ["scheduled"]


def test_metadata_is_written_atomically_and_synced(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy_fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        replaced.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(catalogue.os, "fsync", spy_fsync)
    monkeypatch.setattr(catalogue.os, "replace", spy_replace)
    store(cat)
    assert synced == ["file", "dir"]
    assert len(replaced) == 1
    tmp, final = replaced[0]
    assert final == f"{ID}.json"
    assert tmp.startswith(f".{ID}.json.")
    assert tmp.endswith(".part")


def test_a_failed_metadata_write_leaves_no_entry_and_no_temp(
    cat: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_replace(src: object, dst: object) -> None:
        raise OSError("no space left on device")

    cat.archive_path(ID).write_bytes(b"x")
    monkeypatch.setattr(catalogue.os, "replace", failing_replace)
    with pytest.raises(OSError, match="no space"):
        cat.add(ID, wire(b"x"), application="a", trigger="manual", source="s")
    assert names(cat) == [f"{ID}.tar.gz"]
    assert cat.list() == []


def test_metadata_file_permissions(cat: Catalogue) -> None:
    old = os.umask(0o077)
    try:
        store(cat)
    finally:
        os.umask(old)
    assert stat.S_IMODE(cat.metadata_path(ID).stat().st_mode) == 0o644


# --- list / get ----------------------------------------------------------------------------


def test_list_of_an_empty_store(cat: Catalogue) -> None:
    assert cat.list() == []


def test_list_is_newest_first_by_started(cat: Catalogue) -> None:
    early = datetime(2026, 12, 1, tzinfo=UTC)
    store(cat, "b-middle", started="2026-12-02T00:00:00Z", stored_at=early)
    store(cat, "c-oldest", started="2026-12-01T00:00:00Z", stored_at=early + timedelta(days=9))
    store(cat, "a-newest", started="2026-12-03T00:00:00+00:00", stored_at=early)
    assert [e.id for e in cat.list()] == ["a-newest", "b-middle", "c-oldest"]


def test_list_falls_back_to_stored_at(cat: Catalogue) -> None:
    store(cat, "no-start", started=None, stored_at=datetime(2026, 12, 2, 12, tzinfo=UTC))
    store(
        cat,
        "zero-start",
        started="0001-01-01T00:00:00Z",
        stored_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    store(cat, "junk-start", started="yesterday", stored_at=datetime(2026, 11, 1, tzinfo=UTC))
    store(
        cat, "started", started="2026-12-03T00:00:00Z", stored_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    listed = cat.list()
    assert [e.id for e in listed] == ["zero-start", "started", "no-start", "junk-start"]
    assert [e.started for e in listed] == [None, datetime(2026, 12, 3, tzinfo=UTC), None, None]
    assert listed[0].when == datetime(2026, 12, 4, tzinfo=UTC)


def test_list_skips_incomplete_entries(cat: Catalogue) -> None:
    store(cat, "complete")
    # metadata whose archive is gone
    store(cat, "archive-gone")
    cat.archive_path("archive-gone").unlink()
    # an archive without metadata (a download that was not recorded)
    cat.archive_path("no-metadata").write_bytes(b"x")
    # metadata that is not JSON, or not ours
    cat.archive_path("bad-json").write_bytes(b"x")
    cat.metadata_path("bad-json").write_text("{not json")
    cat.archive_path("a-list").write_bytes(b"x")
    cat.metadata_path("a-list").write_text("[1, 2]")
    # metadata for another id than its file name says
    store(cat, "renamed")
    cat.metadata_path("renamed").rename(cat.metadata_path("moved"))
    cat.archive_path("moved").write_bytes(b"x")
    # metadata with fields missing or of the wrong type
    for field, value in [
        ("application", None),
        ("trigger", 5),
        ("source", ["x"]),
        ("stored-at", "never"),
        ("metadata", "text"),
        ("id", "../escape"),
    ]:
        name = f"broken-{field}"
        store(cat, name)
        record = json.loads(cat.metadata_path(name).read_text())
        if value is None:
            del record[field]
        else:
            record[field] = value
        cat.metadata_path(name).write_text(json.dumps(record))
    # files that are never entries
    (cat.root / f".{ID}.tar.gz.abc123.part").write_bytes(b"partial")
    (cat.root / ".hidden.json").write_text("{}")
    (cat.root / "lost+found").mkdir()
    assert [e.id for e in cat.list()] == ["complete"]


def test_list_never_shows_ca_material_written_by_others(cat: Catalogue) -> None:
    store(cat)
    record = json.loads(cat.metadata_path(ID).read_text())
    record["metadata"]["ca-private-key"] = CA_KEY
    cat.metadata_path(ID).write_text(json.dumps(record))
    (entry,) = cat.list()
    assert "ca-private-key" not in entry.metadata


def test_entry_size_is_the_archive_size(cat: Catalogue) -> None:
    entry = store(cat, data=b"z" * 4321)
    assert entry.size == 4321
    assert cat.list()[0].size == 4321


def test_get(cat: Catalogue) -> None:
    entry = store(cat)
    assert cat.get(ID) == entry
    assert cat.get("unknown") is None
    cat.archive_path(ID).unlink()
    assert cat.get(ID) is None


# --- remove --------------------------------------------------------------------------------


def test_remove_deletes_archive_and_metadata(cat: Catalogue) -> None:
    store(cat)
    store(cat, "other")
    assert cat.remove(ID) is True
    assert names(cat) == ["other.json", "other.tar.gz"]
    assert cat.get(ID) is None
    assert cat.remove(ID) is False


def test_remove_unknown(cat: Catalogue) -> None:
    assert cat.remove("never-there") is False


def test_remove_a_half_written_backup(cat: Catalogue) -> None:
    cat.archive_path(ID).write_bytes(b"x")
    assert cat.remove(ID) is True
    assert names(cat) == []


def test_remove_deletes_metadata_first(cat: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    store(cat)
    order: list[str] = []
    real_unlink = Path.unlink

    def spy_unlink(self: Path, missing_ok: bool = False) -> None:
        order.append(self.name)
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", spy_unlink)
    cat.remove(ID)
    assert order == [f"{ID}.json", f"{ID}.tar.gz"]


# --- cleanup -------------------------------------------------------------------------------


def test_cleanup_deletes_leftovers_and_keeps_complete_entries(cat: Catalogue) -> None:
    kept = store(cat, "kept")
    leftovers = [
        cat.root / f".{ID}.tar.gz.k3j4h5.part",  # an interrupted download
        cat.root / ".kept.json.1a2b3c.part",  # an interrupted metadata write
        cat.root / "stray.part",
        cat.archive_path("no-metadata"),
        cat.metadata_path("no-archive"),
    ]
    for path in leftovers:
        path.write_bytes(b"left over")
    # unreadable metadata: kept with its archive, a parse failure must not lose a backup
    cat.archive_path("unreadable").write_bytes(b"x")
    cat.metadata_path("unreadable").write_text("{oops")
    (cat.root / "README").write_text("operator's note")
    (cat.root / ".hidden").write_text("x")
    (cat.root / "lost+found").mkdir()
    (cat.root / "sub.tar.gz").mkdir()

    removed = cat.cleanup()

    assert sorted(removed) == sorted(leftovers)
    assert names(cat) == [
        ".hidden",
        "README",
        "kept.json",
        "kept.tar.gz",
        "lost+found",
        "sub.tar.gz",
        "unreadable.json",
        "unreadable.tar.gz",
    ]
    assert cat.list() == [kept]
    assert cat.cleanup() == []


def test_cleanup_after_an_interrupted_remove(cat: Catalogue) -> None:
    store(cat)
    cat.metadata_path(ID).unlink()  # remove() stopped between its two deletions
    assert cat.cleanup() == [cat.archive_path(ID)]
    assert names(cat) == []


def test_cleanup_keeps_file_name_id_entries(cat: Catalogue) -> None:
    entry = store(cat, FILENAME_ID)
    assert cat.cleanup() == []
    assert cat.list() == [entry]


# --- verify --------------------------------------------------------------------------------


def test_verify_matches_the_controllers_checksum(cat: Catalogue) -> None:
    store(cat, data=os.urandom(100))
    assert cat.verify(ID) is True


def test_verify_streams_a_file_larger_than_a_chunk(cat: Catalogue) -> None:
    data = os.urandom(catalogue.CHUNK_SIZE * 2 + 12345)
    store(cat, data=data)
    assert cat.verify(ID) is True


def test_verify_detects_a_changed_archive(cat: Catalogue) -> None:
    data = bytearray(os.urandom(5000))
    store(cat, data=bytes(data))
    data[2500] ^= 0xFF
    cat.archive_path(ID).write_bytes(bytes(data))
    assert cat.verify(ID) is False


def test_verify_detects_a_truncated_archive(cat: Catalogue) -> None:
    data = os.urandom(5000)
    store(cat, data=data)
    cat.archive_path(ID).write_bytes(data[:-1])
    assert cat.verify(ID) is False


@pytest.mark.parametrize("checksum", [None, "", 5])
def test_verify_without_a_usable_checksum_is_not_verified(
    cat: Catalogue, checksum: object
) -> None:
    cat.archive_path(ID).write_bytes(b"x")
    meta = wire(b"x")
    if checksum is None:
        del meta["checksum"]
    else:
        meta["checksum"] = checksum
    cat.add(ID, meta, application="a", trigger="manual", source="s")
    assert cat.verify(ID) is False


def test_verify_unknown_backup(cat: Catalogue) -> None:
    with pytest.raises(UnknownBackupError, match="no archive of backup nope"):
        cat.verify("nope")


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 1 << 20])
def test_checksum_is_base64_sha1_whatever_the_chunk_size(tmp_path: Path, chunk_size: int) -> None:
    data = os.urandom(10000)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert catalogue.checksum(path, chunk_size) == sha1_b64(data)


def test_checksum_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert catalogue.checksum(path) == "2jmj7l5rSw0yVb/vlWAYkK/YBwk="


# --- free space and times --------------------------------------------------------------------


def test_free_bytes(cat: Catalogue) -> None:
    st = os.statvfs(cat.root)
    assert cat.free_bytes() == st.f_bavail * st.f_frsize
    assert cat.free_bytes() > 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-04T15:19:00Z", datetime(2026, 12, 4, 15, 19, tzinfo=UTC)),
        ("2026-12-04T15:19:00z", datetime(2026, 12, 4, 15, 19, tzinfo=UTC)),
        ("2026-12-04T15:19:00.5Z", datetime(2026, 12, 4, 15, 19, 0, 500000, tzinfo=UTC)),
        (
            "2026-12-04T15:19:00.123456789Z",
            datetime(2026, 12, 4, 15, 19, 0, 123456, tzinfo=UTC),
        ),
        ("2026-12-04T17:19:00+02:00", datetime(2026, 12, 4, 15, 19, tzinfo=UTC)),
        ("2026-12-04 15:19:00Z", datetime(2026, 12, 4, 15, 19, tzinfo=UTC)),
        (datetime(2026, 12, 4, 15, 19), datetime(2026, 12, 4, 15, 19, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        (datetime(1, 1, 1, tzinfo=UTC), None),
        ("2026-12-04T15:19:00", None),
        ("2026-13-04T15:19:00Z", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1733325540, None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    parsed = catalogue.parse_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_format_time() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert catalogue.format_time(datetime(2026, 12, 4, 17, 19, tzinfo=plus_two)) == (
        "2026-12-04T15:19:00Z"
    )
