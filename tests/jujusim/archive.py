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
        data = bytes(b)
        self._raw.write(data)
        self.sha1.update(data)
        self.size += len(data)
        return len(data)


class _RandomReader(io.RawIOBase):
    """Incompressible bytes, so the archive's size is real."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left, CHUNK)
        if n <= 0:
            return 0
        buffer[:n] = os.urandom(n)
        self._left -= n
        return n


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _root_tar(mtime: float) -> bytes:
    """A small but real root.tar: the controller files Juju puts there."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        _add_bytes(tar, "var/lib/juju/server.pem", b"(simulated server certificate)\n", mtime)
        _add_bytes(tar, "var/lib/juju/system-identity", b"(simulated identity)\n", mtime)
        _add_bytes(tar, "var/lib/juju/nonce.txt", b"user-admin:bootstrap\n", mtime)
        _add_bytes(tar, "etc/init/juju-db.conf", b"# simulated\n", mtime)
    return out.getvalue()


def build(path: Path, size: int, metadata: dict[str, Any]) -> BuiltArchive:
    """Write an archive of about `size` bytes at `path` (replacing any file there)."""
    mtime = time.time()
    payload = max(0, size - _OVERHEAD)
    # Level 0 stores the random payload as it is: fast, and the size stays what was asked.
    with open(path, "wb") as raw:
        hashing = _HashingWriter(raw)
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=hashing, compresslevel=0) as gz,
            tarfile.open(fileobj=gz, mode="w|", bufsize=CHUNK) as tar,
        ):
            info = tarfile.TarInfo("juju-backup")
            info.type = tarfile.DIRTYPE
            info.mode = 0o700
            info.mtime = int(mtime)
            tar.addfile(info)
            meta = json.dumps(metadata, indent=1).encode()
            _add_bytes(tar, "juju-backup/metadata.json", meta, mtime)
            _add_bytes(tar, "juju-backup/root.tar", _root_tar(mtime), mtime)
            _add_bytes(tar, "juju-backup/dump/admin/system.version.bson", os.urandom(512), mtime)
            dump = tarfile.TarInfo("juju-backup/dump/juju/txns.bson")
            dump.size = payload
            dump.mtime = int(mtime)
            dump.mode = 0o600
            tar.addfile(dump, _RandomReader(payload))  # pyright: ignore[reportArgumentType]
        raw.flush()
        os.fsync(raw.fileno())
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
