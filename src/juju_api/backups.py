"""The Backups facade (v1, v2, v3) and what each controller generation really serves.

A call the controller cannot serve is refused here, before anything is sent, with a message
that names the controller's version, the facade version and what it does support.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import (
    APIError,
    ConnectionFailed,
    ProtocolError,
    UnsupportedByController,
    error_from_wire,
)
from .models import BackupMetadata, RemoveResult

if TYPE_CHECKING:
    from .connection import Connection

METHODS = ("create", "info", "list", "remove", "prepare-restore", "restore", "finish-restore")
_ACTIONS = {
    "create": "create backups",
    "info": "show a backup's metadata",
    "list": "list backups",
    "remove": "remove backups",
    "prepare-restore": "prepare a restore",
    "restore": "restore a backup",
    "finish-restore": "finish a restore",
}
_STORE_ENDS = (2, 9, 22)  # from here on archives are files on the controller machine, not stored
_DQLITE = (4, 0, 0)


def parse_version(text: str) -> tuple[int, int, int]:
    """Parse a Juju version (``"2.9.22"``, ``"3.6.27.1"``, ``"2.9-rc1"``) to (major, minor, patch).

    A pre-release (``2.9-rc1``) counts as patch 0 of its minor version.
    """
    m = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if not m:
        return (0, 0, 0)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def backups_capabilities(server: tuple[int, int, int], facade_version: int) -> frozenset[str]:
    """Return what a controller of version ``server`` serves over Backups ``facade_version``.

    The facade's schema is not enough: 2.9.22 on still declares Info, List, Remove and
    Restore but answers them with refusals, and 4.0 declares Create but does not implement it.
    ``"keep-copy"`` and ``"no-download"`` mean the caller may choose them (Backups v1 always
    keeps the archive on the controller); ``"upload"`` is the HTTP upload of an archive.
    """
    if server >= _DQLITE:
        return frozenset()
    if server >= _STORE_ENDS:
        return frozenset({"create"})
    caps: set[str] = set(METHODS)
    if server >= (2, 4, 0):
        caps.add("upload")
        if facade_version >= 2:
            caps |= {"keep-copy", "no-download"}
    return frozenset(caps)


class Backups:
    """The Backups facade on one connection, at the best version both sides know.

    Attributes:
        version: the facade version in use.
        capabilities: what this controller serves (see :func:`backups_capabilities`).
    """

    def __init__(self, conn: Connection) -> None:
        """Pick the facade version.

        Raises:
            UnsupportedByController: the controller offers no Backups version known here
                (Backups is offered only on a connection to the controller model).
        """
        version = conn.best_version("Backups")
        if version is None:
            offered = ", ".join(map(str, conn.facades.get("Backups", ()))) or "none"
            raise UnsupportedByController(
                f"Juju {conn.server_version} offers Backups facade versions {offered} on this "
                "connection; this client speaks 1, 2 and 3, and backups are served only on a "
                "connection to the controller model"
            )
        self.conn = conn
        self.version = version
        self.server = parse_version(conn.server_version)
        self.capabilities = backups_capabilities(self.server, version)

    def __repr__(self) -> str:
        return f"<Backups v{self.version} juju={self.conn.server_version}>"

    def refusal(self, action: str) -> str:
        """Explain why this controller cannot ``action`` (e.g. ``"list backups"``)."""
        if self.server >= _DQLITE:
            reason = (
                "Juju 4.0 controllers make Dqlite-based backups, which the Backups API does "
                "not serve"
            )
        elif self.server >= _STORE_ENDS and "restore" in action:
            reason = (
                "from Juju 2.9.22 on, restore is done with the standalone juju-restore utility "
                "on the primary controller machine"
            )
        elif self.server >= _STORE_ENDS:
            reason = (
                "from Juju 2.9.22 on, controllers no longer store backups: each archive is a "
                "file on the controller machine that created it, to be downloaded from there"
            )
        elif action.startswith("upload"):
            reason = "uploading archives arrived in Juju 2.4"
        else:
            reason = "this facade version does not offer it"
        methods = [m for m in METHODS if m in self.capabilities]
        supported = ", ".join(methods) if methods else "no backup operation"
        return (
            f"Juju {self.conn.server_version} (Backups facade v{self.version}) cannot {action}: "
            f"{reason}; it supports {supported}"
        )

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise UnsupportedByController(self.refusal(_ACTIONS.get(capability, capability)))

    def _call(self, method: str, params: dict[str, Any] | None, timeout: float | None) -> Any:
        return self.conn.call("Backups", method, params, version=self.version, timeout=timeout)

    def create(
        self,
        notes: str = "",
        *,
        keep_copy: bool = False,
        no_download: bool = False,
        timeout: float | None = None,
    ) -> BackupMetadata:
        """Create a backup; blocks until the controller has built the archive.

        Never retry this blindly after a dropped connection or a timeout: the controller may
        have made the backup anyway (retrying a ``RetryableError`` answer is safe).

        Args:
            notes: free text stored with the backup.
            keep_copy: keep the archive in the controller's store (2.4 to 2.9.21; Backups v1
                always keeps it).
            no_download: tell the controller the archive will not be downloaded (2.4 to
                2.9.21; ignored by later controllers).
            timeout: seconds to wait; Create can take minutes on a large controller.

        Returns:
            The new backup's metadata (no CA material).

        Raises:
            UnsupportedByController: this controller cannot create backups over the API, or
                cannot keep a copy (nothing was sent).
        """
        self._require("create")
        if keep_copy and self.version >= 2 and "keep-copy" not in self.capabilities:
            raise UnsupportedByController(
                self.refusal("keep a copy of a backup on the controller")
            )
        params: dict[str, Any] = {"notes": notes}
        if self.version >= 2 and self.server < _STORE_ENDS:
            params |= {"keep-copy": keep_copy, "no-download": no_download}
        elif self.version >= 2:
            params["no-download"] = no_download
        return BackupMetadata.from_wire(self._call("Create", params, timeout))

    def info(self, backup_id: str, *, timeout: float | None = None) -> BackupMetadata:
        """Return the metadata of a backup the controller stores (2.0 to 2.9.21)."""
        self._require("info")
        return BackupMetadata.from_wire(self._call("Info", {"id": backup_id}, timeout))

    def list(self, *, timeout: float | None = None) -> list[BackupMetadata]:
        """List the backups the controller stores (2.0 to 2.9.21)."""
        self._require("list")
        entries = self._call("List", {}, timeout).get("list")
        if entries is None:  # Go marshals an empty slice as null
            return []
        if not isinstance(entries, list):
            raise ProtocolError("malformed List answer: list is not a list")
        return [BackupMetadata.from_wire(e) for e in entries]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]

    def remove(self, ids: Sequence[str], *, timeout: float | None = None) -> list[RemoveResult]:
        """Remove stored backups (2.0 to 2.9.21); one result per id, in order.

        A backup the controller refuses to remove yields a result with its error; the other
        ids are still removed.
        """
        self._require("remove")
        ids = [ids] if isinstance(ids, str) else list(ids)
        if not ids:
            return []
        if self.version == 1:  # v1 removes one backup per call and returns nothing
            results: list[RemoveResult] = []
            for backup_id in ids:
                try:
                    self._call("Remove", {"id": backup_id}, timeout)
                except APIError as e:
                    results.append(RemoveResult(backup_id, e))
                else:
                    results.append(RemoveResult(backup_id))
            return results
        answers = self._call("Remove", {"ids": ids}, timeout).get("results")
        if not isinstance(answers, list) or len(answers) != len(ids):  # pyright: ignore[reportUnknownArgumentType]
            raise ProtocolError("malformed Remove answer: not one result per id")
        return [_remove_result(i, a) for i, a in zip(ids, answers, strict=True)]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]

    def prepare_restore(self, *, timeout: float | None = None) -> None:
        """Put the controller in restore mode (2.0 to 2.9.21); most calls are refused after."""
        self._require("prepare-restore")
        self._call("PrepareRestore", None, timeout)

    def restore(self, backup_id: str, *, timeout: float | None = None) -> None:
        """Restore a stored backup (2.0 to 2.9.21).

        The controller restarts to finish the restore, so its dropping the connection is the
        expected outcome and counts as success; call :meth:`finish_restore` on a new
        connection (it fails if the restore did not complete).
        """
        self._require("restore")
        if self.conn.closed:
            raise ConnectionFailed(f"the connection to {self.conn.endpoint} is closed")
        try:
            self._call("Restore", {"backup-id": backup_id}, timeout)
        except ConnectionFailed:
            return

    def finish_restore(self, *, timeout: float | None = None) -> None:
        """Leave restore mode after the controller restarted (2.0 to 2.9.21)."""
        self._require("finish-restore")
        self._call("FinishRestore", None, timeout)

    def download_id(self, metadata: BackupMetadata) -> str:
        """Return the id to download ``metadata``'s archive with.

        From 2.9.22 on the download names the archive's file (``filename``); before, the
        stored backup's id.
        """
        if self.server >= _STORE_ENDS and metadata.filename:
            return metadata.filename
        return metadata.id


def _remove_result(backup_id: str, answer: Any) -> RemoveResult:
    if not isinstance(answer, dict):
        raise ProtocolError("malformed Remove answer: a result is not an object")
    error: Any = answer.get("error")  # pyright: ignore[reportUnknownMemberType]
    if not error:
        return RemoveResult(backup_id)
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):  # pyright: ignore[reportUnknownMemberType]
        raise ProtocolError("malformed Remove answer: an error has no message")
    code: Any = error.get("code") or ""  # pyright: ignore[reportUnknownMemberType]
    info: Any = error.get("info") or {}  # pyright: ignore[reportUnknownMemberType]
    return RemoveResult(
        backup_id,
        error_from_wire(
            error["message"],  # pyright: ignore[reportUnknownArgumentType]
            code if isinstance(code, str) else "",
            info if isinstance(info, dict) else {},  # pyright: ignore[reportUnknownArgumentType]
        ),
    )
