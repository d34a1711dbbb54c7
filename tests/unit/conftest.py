"""Unit tests open no network sockets: the guard makes any attempt fail loudly."""

from __future__ import annotations

import socket

import pytest


class _NetworkGuardSocket(socket.socket):
    def __init__(self, family: int = -1, *args: object, **kwargs: object) -> None:
        if family in (socket.AF_INET, socket.AF_INET6, -1):
            raise RuntimeError(
                "unit tests must not open network sockets; move this test to tests/functional"
            )
        super().__init__(family, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _NetworkGuardSocket)
