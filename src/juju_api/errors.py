"""Typed errors of the Juju API client.

Every error keeps the controller's own message in ``.message`` and ``str(err)``. Nothing here
may carry a password or the controller's CA private key: server text and error info pass
through :func:`redact` and :func:`redact_info` before they are stored.
"""

# The names are the project contract's (juju_api API), shared with the charm code.
# ruff: noqa: N818

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Juju 2.x answers carry the controller's CA private key; a PEM key block must never survive
# into an exception, whatever path it took (an error message, error info, a malformed answer).
_PEM_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_SECRET_KEYS = frozenset({"ca-private-key", "ca_private_key", "CAPrivateKey", "password"})


def redact(text: str) -> str:
    """Return ``text`` with any PEM private key block replaced by ``[redacted]``."""
    return _PEM_KEY.sub("[redacted private key]", text)


def redact_info(value: Any) -> Any:
    """Return a copy of error info without secret keys or PEM private keys, at any depth."""
    if isinstance(value, Mapping):
        return {
            str(k): redact_info(v)
            for k, v in value.items()  # pyright: ignore[reportUnknownVariableType]
            if str(k) not in _SECRET_KEYS  # pyright: ignore[reportUnknownArgumentType]
        }
    if isinstance(value, list):
        return [redact_info(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, str):
        return redact(value)
    return value


class JujuError(Exception):
    """Base of every error this client raises.

    Attributes:
        message: what went wrong, as the controller (or the client) said it.
    """

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ConnectionFailed(JujuError):
    """The controller could not be reached, refused the connection, or dropped it."""


class TLSVerificationFailed(ConnectionFailed):
    """The controller's certificate does not match the pinned CA or the name juju-apiserver."""


class CallTimeout(JujuError):
    """No answer arrived within the timeout."""


class ProtocolError(JujuError):
    """The controller's answer is malformed (invalid JSON, missing fields, wrong types)."""


class UnsupportedByController(JujuError):
    """Refused by the client, before sending: this controller cannot serve the call."""


class APIError(JujuError):
    """The controller answered with an error.

    Attributes:
        code: Juju's ``error-code`` (may be empty).
        info: Juju's ``error-info``, without secret values.
    """

    def __init__(self, message: str, code: str = "", info: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.info: dict[str, Any] = redact_info(dict(info or {}))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class Unauthorized(APIError):
    """``unauthorized access``: a wrong password or a missing permission."""


class NotFound(APIError):
    """``not found``."""


class NotSupported(APIError):
    """``not supported``."""


class NotImplementedByController(APIError):
    """``not implemented``: the controller does not serve this method or version."""


class RedirectRequired(APIError):
    """``redirection required``: the model lives on another controller."""


class Forbidden(APIError):
    """``forbidden``."""


class BadRequest(APIError):
    """``bad request``."""


class NotValid(APIError):
    """``not valid``."""


class LoginExpired(APIError):
    """``login expired``."""


class RestoreInProgress(APIError):
    """A restore is pending or running; the controller limits what it does."""


class RetryableError(APIError):
    """A transient refusal: the same call may succeed a little later."""


class TryAgain(RetryableError):
    """``try again``."""


class UpgradeInProgress(RetryableError):
    """``upgrade in progress``."""


class HANotReady(RetryableError):
    """``HA not ready; try again later``."""


class DownloadError(JujuError):
    """An archive transfer failed: an HTTP error, or the stream was cut short.

    Attributes:
        status: the HTTP status, when the controller answered with one.
        code: Juju's error code from the error body, if any.
    """

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ChecksumMismatch(DownloadError):
    """The downloaded archive does not match the checksum the controller reported.

    Attributes:
        expected: the checksum the metadata gave (base64 SHA-1).
        actual: the checksum of the bytes received.
    """

    def __init__(self, message: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


_BY_CODE: dict[str, type[APIError]] = {
    "unauthorized access": Unauthorized,
    "not found": NotFound,
    "model not found": NotFound,
    "not supported": NotSupported,
    "not implemented": NotImplementedByController,
    "redirection required": RedirectRequired,
    "forbidden": Forbidden,
    "bad request": BadRequest,
    "not valid": NotValid,
    "login expired": LoginExpired,
    "try again": TryAgain,
    "upgrade in progress": UpgradeInProgress,
}
_RESTORE_MESSAGES = ("juju restore is in progress", "maintenance in progress")


def error_from_wire(
    message: str, code: str = "", info: Mapping[str, Any] | None = None
) -> APIError:
    """Build the typed error for a controller's error answer.

    Args:
        message: the ``error`` text.
        code: the ``error-code`` (Go omits it when empty).
        info: the ``error-info`` object.

    Returns:
        An instance of the most specific :class:`APIError` subclass.
    """
    # Juju raises these without a code (or with a generic one): the text is what identifies them.
    if message.startswith("HA not ready"):
        return HANotReady(message, code, info)
    if any(m in message for m in _RESTORE_MESSAGES):
        return RestoreInProgress(message, code, info)
    return _BY_CODE.get(code, APIError)(message, code, info)
