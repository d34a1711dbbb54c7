"""Unit tests open no network sockets (the guard makes any attempt fail loudly), and each has
its own cron directory."""

from __future__ import annotations

import socket

import pytest

from tests.charm_cron import isolate_cron_dir


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


@pytest.fixture(autouse=True)
def _charm_cron_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_cron_dir(tmp_path_factory, monkeypatch)
