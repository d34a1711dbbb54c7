"""Helpers for the functional tests of list-backups, show-backup, remove-backups and restore."""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ops import testing

import restore
import service
from catalogue import Catalogue
from charm import JujuBackupsCharm
from tests.conftest import MakeSim
from tests.functional.test_charm_create import charm_context, sim_secret, sim_state, storage_root
from tests.jujusim import Simulator

__all__ = [
    "Clock",
    "Unit",
    "assert_juju_keys",
    "backup_rows",
    "fast_retries",
    "flatten",
    "start",
]

ARCHIVE = 256 << 10
KEY = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"


class Clock:
    """A controller clock that moves one second per reading: backup ids never collide."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        self.now += datetime.timedelta(seconds=1)
        return self.now


def start(make_sim: MakeSim, version: str, **kwargs: Any) -> Simulator:
    sim = make_sim(version, archive_size=kwargs.pop("archive_size", ARCHIVE), **kwargs)
    sim.set_clock(Clock())
    sim.restore_downtime = 0.3
    return sim


def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries and reconnections without the production waits."""
    monkeypatch.setattr(service, "RETRY_BACKOFF", 0.0)
    monkeypatch.setattr(restore, "LOOKUP_BACKOFF", 0.0)
    monkeypatch.setattr(restore, "RESTART_BACKOFF", 0.05)
    monkeypatch.setattr(restore, "RESTART_BACKOFF_MAX", 0.2)


class Unit:
    """One unit of the charm against a simulator; its state carried from event to event."""

    def __init__(self, sim: Simulator, **config: Any) -> None:
        self.sim = sim
        self.ctx: testing.Context[JujuBackupsCharm] = charm_context()
        self.state = sim_state(sim_secret(sim), **config)
        self.logs: list[str] = []

    @property
    def root(self) -> Path:
        return storage_root(self.ctx, self.state)

    @property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.root)

    @property
    def restore_state(self) -> Path:
        return self.root / restore.STATE_FILE

    def run(self, action: str, **params: Any) -> dict[str, Any]:
        """Run an action that must succeed; its results (a copy)."""
        self.state = self.ctx.run(self.ctx.on.action(action, params=params), self.state)
        self.logs = list(self.ctx.action_logs)
        return copy.deepcopy(self.ctx.action_results or {})

    def fail(self, action: str, **params: Any) -> tuple[str, dict[str, Any]]:
        """Run an action that must fail; its message and whatever results it set."""
        with pytest.raises(testing.ActionFailed) as failed:
            self.ctx.run(self.ctx.on.action(action, params=params), self.state)
        after = failed.value.state
        assert isinstance(after, testing.State)
        self.state = after
        self.logs = list(self.ctx.action_logs)
        return failed.value.message, copy.deepcopy(self.ctx.action_results or {})

    def hook(self, name: str) -> testing.State:
        self.state = self.ctx.run(getattr(self.ctx.on, name.replace("-", "_"))(), self.state)
        return self.state

    def create(self, **params: Any) -> str:
        return str(self.run("create-backup", **params)["backup-id"])


def flatten(results: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in results.items():
        if isinstance(value, Mapping):
            yield from flatten(value, f"{prefix}{key}.")  # pyright: ignore[reportUnknownArgumentType]
        else:
            yield f"{prefix}{key}", value


def assert_juju_keys(results: Mapping[str, Any]) -> None:
    """Every key follows Juju's rules and every value is a string."""
    for key, value in flatten(results):
        for part in key.split("."):
            assert re.fullmatch(KEY, part), f"result key {key!r} breaks Juju's rules"
        assert isinstance(value, str), f"result {key} is not a string"


def backup_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a list-backups result in json format."""
    assert results["format"] == "json"
    return json.loads(results["backups"])
