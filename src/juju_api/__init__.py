"""The charm's own Juju API client: synchronous, typed, streaming, without ops.

Connect with :func:`connect`, find the controller model with :func:`find_controller_model`,
drive backups with :class:`Backups`, fetch archives with ``Connection.download`` or
:func:`download_backup`. Every error is a :class:`JujuError` (see :mod:`juju_api.errors`).
"""

from .backups import Backups, backups_capabilities, parse_version
from .connection import CLIENT_FACADES, Connection, connect, find_controller_model
from .errors import (
    APIError,
    BadRequest,
    CallTimeout,
    ChecksumMismatch,
    ConnectionFailed,
    DownloadError,
    Forbidden,
    HANotReady,
    JujuError,
    LoginExpired,
    NotFound,
    NotImplementedByController,
    NotSupported,
    NotValid,
    ProtocolError,
    RedirectRequired,
    RestoreInProgress,
    RetryableError,
    TLSVerificationFailed,
    TryAgain,
    Unauthorized,
    UnsupportedByController,
    UpgradeInProgress,
)
from .models import BackupMetadata, DownloadResult, ModelSummary, RemoveResult
from .retry import with_retries
from .transfer import download_backup, upload_backup

__all__ = [
    "CLIENT_FACADES",
    "APIError",
    "BackupMetadata",
    "Backups",
    "BadRequest",
    "CallTimeout",
    "ChecksumMismatch",
    "Connection",
    "ConnectionFailed",
    "DownloadError",
    "DownloadResult",
    "Forbidden",
    "HANotReady",
    "JujuError",
    "LoginExpired",
    "ModelSummary",
    "NotFound",
    "NotImplementedByController",
    "NotSupported",
    "NotValid",
    "ProtocolError",
    "RedirectRequired",
    "RemoveResult",
    "RestoreInProgress",
    "RetryableError",
    "TLSVerificationFailed",
    "TryAgain",
    "Unauthorized",
    "UnsupportedByController",
    "UpgradeInProgress",
    "backups_capabilities",
    "connect",
    "download_backup",
    "find_controller_model",
    "parse_version",
    "upload_backup",
    "with_retries",
]
