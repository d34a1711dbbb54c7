"""Files written so that a crash leaves either the old content or all of the new.

Shared by the catalogue (metadata beside each archive, restore state) and the cron entry.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

# Half-written files end so; the catalogue removes leftovers at start.
PART_SUFFIX = ".part"


def fsync_dir(path: Path) -> None:
    """Sync a directory, so that a rename or unlink in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file so that readers see either the old content or all of the new.

    The data goes to a hidden ``.part`` file beside the target, is synced, renamed over the
    target, and the directory is synced so that the rename survives a crash.

    Args:
        path: the file to write.
        data: its full content.
        mode: the file's permission bits.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{PART_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)  # the umask must not narrow what readers such as cron need
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
