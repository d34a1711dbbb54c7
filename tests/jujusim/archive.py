"""Backup archives as Juju writes them: gzip'd tar of juju-backup/{metadata.json,root.tar,dump}."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1 << 20
# Headers, the small members, tar padding and gzip framing, so the file lands near the size asked.
_OVERHEAD = 32 * 1024


@dataclass(frozen=True)
class BuiltArchive:
    path: Path
    size: int
    checksum: str  # base64 of the SHA-1 digest of the archive bytes


class _HashingWriter(io.RawIOBase):
    """Counts and hashes what gzip writes, so the checksum needs no second pass."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha1 = hashlib.sha1()  # noqa: S324 - Juju's checksum format is SHA-1
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self._raw.write(b)
        self.sha1.update(b)
        n = memoryview(b).nbytes
        self.size += n
        return n


def _random_chunks(size: int) -> Iterator[bytes]:
    """Incompressible bytes, so the archive's size is real, made fast enough for 1 GiB.

    Chunks are slices of one random pool taken at shifting offsets: no compressor window
    reaches back far enough to see a repeat, and generating them costs nothing.
    """
    pool_size = 8 << 20
    pool = memoryview(os.urandom(pool_size + CHUNK))
    count = 0
    while size > 0:
        n = min(size, CHUNK)
        offset = (count * 7919 * 64) % pool_size
        yield bytes(pool[offset : offset + n])
        count += 1
        size -= n


def _member(name: str, size: int, mtime: float, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o700 if kind == tarfile.DIRTYPE else 0o600
    info.type = kind
    return info.tobuf(tarfile.GNU_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def _root_tar(mtime: float) -> bytes:
    """A small but real root.tar: the controller files Juju puts there."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in [
            ("var/lib/juju/server.pem", b"(simulated server certificate)\n"),
            ("var/lib/juju/system-identity", b"(simulated identity)\n"),
            ("var/lib/juju/nonce.txt", b"user-admin:bootstrap\n"),
            ("etc/init/juju-db.conf", b"# simulated\n"),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(mtime)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def build(path: Path, size: int, metadata: dict[str, Any]) -> BuiltArchive:
    """Write an archive of about `size` bytes at `path` (replacing any file there)."""
    mtime = time.time()
    payload = max(0, size - _OVERHEAD)
    small = [
        ("juju-backup/metadata.json", json.dumps(metadata, indent=1).encode()),
        ("juju-backup/root.tar", _root_tar(mtime)),
        ("juju-backup/dump/admin/system.version.bson", os.urandom(512)),
    ]
    with open(path, "wb") as raw:
        hashing = _HashingWriter(raw)
        # Level 0 stores the random payload as it is: fast, and the size stays what was asked.
        # The tar stream is written by hand: tarfile's stream writer is slow for a GiB.
        with gzip.GzipFile(filename="", mode="wb", fileobj=hashing, compresslevel=0) as gz:
            gz.write(_member("juju-backup", 0, mtime, tarfile.DIRTYPE))
            for name, data in small:
                gz.write(_member(name, len(data), mtime) + data + _padding(len(data)))
            gz.write(_member("juju-backup/dump/juju/txns.bson", payload, mtime))
            for chunk in _random_chunks(payload):
                gz.write(chunk)
            gz.write(_padding(payload) + b"\0" * (2 * tarfile.BLOCKSIZE))
    return BuiltArchive(
        path=path, size=hashing.size, checksum=base64.b64encode(hashing.sha1.digest()).decode()
    )


def checksum_of(path: Path) -> tuple[int, str]:
    sha1 = hashlib.sha1()  # noqa: S324 - Juju's checksum format is SHA-1
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha1.update(chunk)
            size += len(chunk)
    return size, base64.b64encode(sha1.digest()).decode()
