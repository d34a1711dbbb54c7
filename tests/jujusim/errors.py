"""Errors as the Juju API server words and codes them."""

from __future__ import annotations

from typing import Any


class RpcError(Exception):
    """An error answer: message, code ("" when Juju sends none) and info."""

    def __init__(self, message: str, code: str = "", info: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.info = info or {}


class DropConnection(Exception):  # noqa: N818 - a signal, not an error
    """Close the connection without answering (a programmed fault, a restart)."""


UNAUTHORIZED = "unauthorized access"
NOT_FOUND = "not found"
NOT_SUPPORTED = "not supported"
NOT_IMPLEMENTED = "not implemented"
REDIRECT = "redirection required"


def bad_creds() -> RpcError:
    return RpcError("invalid entity name or password", UNAUTHORIZED)


def perm_denied() -> RpcError:
    return RpcError("permission denied", UNAUTHORIZED)


def bad_id() -> RpcError:
    return RpcError("id not found", NOT_FOUND)


def call_not_implemented(facade: str, version: int, method: str = "") -> RpcError:
    """rpcreflect.CallNotImplementedError's texts (unchanged from 2.x to 4.0)."""
    if not method:
        if version:
            return RpcError(
                f'unknown version ({version}) of interface "{facade}"', NOT_IMPLEMENTED
            )
        return RpcError(f'unknown object type "{facade}"', NOT_IMPLEMENTED)
    where = f"{facade}({version})" if version else facade
    return RpcError(
        f"no such request - method {where}.{method} is not implemented", NOT_IMPLEMENTED
    )
