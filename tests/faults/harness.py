"""Driving the whole charm for the fault cases, and recording what every run exposed.

`Exposure` is the session's collector: every action result, action log line, juju-log line,
failure message, status, stored state, relation databag and file on the storage that a case
produced, searched at the end of the suite for the password and the CA private keys.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ops import testing

from catalogue import Catalogue
from charm import LOCK_NAME, JujuBackupsCharm
from tests.functional.test_charm_create import ROOT, charm_context
from tests.jujusim import Simulator

# Recognisable on sight, random per session: found anywhere but the secret, it leaked.
CANARY_PASSWORD = f"Canary-Pa55word-{secrets.token_hex(6)}"
CANARY_USER = "backups"
# Linux's MAX_ARG_STRLEN: the longest single command-line argument.
MAX_ARG = 128 * 1024


@dataclass
class Exposure:
    """Secrets to look for, and every text a case made visible to someone."""

    needles: dict[str, str] = field(default_factory=dict[str, str])
    texts: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])

    def secret(self, label: str, value: str) -> None:
        if value:
            self.needles[value] = label

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def add_files(self, where: str, root: Path) -> None:
        if not root.is_dir():
            return
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.add(f"{where}: file {path.name}", path.read_bytes().decode("latin-1"))

    def leaks(self) -> list[str]:
        found = []
        for where, text in self.texts:
            for needle, label in self.needles.items():
                if needle in text:
                    found.append(f"{label} in {where}")
            if "PRIVATE KEY-----" in text:
                found.append(f"a PEM private key in {where}")
        return found


@dataclass
class Run:
    """One event through the charm and what came out of it."""

    ok: bool
    message: str
    results: dict[str, Any] | None
    logs: list[str]
    state: testing.State

    @property
    def status(self) -> Any:
        return self.state.unit_status

    def describe(self) -> str:
        status = f"{self.status.name}" if self.status.name != "unknown" else "no status"
        if self.ok and self.results is not None:
            text = f"succeeded, {self.results.get('backup-id', 'results')} stored; {status}"
        elif self.ok:
            text = f"handled; {status}: {self.status.message}"
        else:
            text = f"action failed ({status}): {self.message}"
        return " ".join(text.split())


class SharedStorageContext(testing.Context[JujuBackupsCharm]):
    """A charm context whose `archives` storage is a given directory (shared by processes)."""

    def __init__(self, root: Path) -> None:
        super().__init__(
            JujuBackupsCharm,
            meta=yaml.safe_load((ROOT / "charmcraft.yaml").read_text()),
            actions=yaml.safe_load((ROOT / "actions.yaml").read_text()),
            config=yaml.safe_load((ROOT / "config.yaml").read_text()),
        )
        self._root = root

    def _get_storage_root(self, name: str, index: int) -> Path:
        self._root.mkdir(parents=True, exist_ok=True)
        return self._root


class Charm:
    """Runs events through one charm context and feeds everything it shows to the collector."""

    def __init__(self, exposure: Exposure, ctx: testing.Context[JujuBackupsCharm] | None = None):
        self.exposure = exposure
        self.ctx = ctx if ctx is not None else charm_context()
        self.runs: list[Run] = []
        self._storage: testing.Storage | None = None

    def root(self, state: testing.State | None = None) -> Path:
        """The archives storage of `state`, or of the state last run."""
        storage = self._storage
        if state is not None:
            storage = next(s for s in state.storages if s.name == "archives")
        if storage is None:
            raise RuntimeError("no state run yet: pass the state")
        root = storage.get_filesystem(self.ctx)
        root.mkdir(parents=True, exist_ok=True)
        return root

    def catalogue(self) -> Catalogue:
        return Catalogue(self.root())

    def action(self, name: str, state: testing.State, **params: Any) -> Run:
        self._remember_storage(state)
        try:
            out = self.ctx.run(self.ctx.on.action(name, params=params), state)
        except testing.ActionFailed as failed:
            after = failed.state
            assert isinstance(after, testing.State)
            run = Run(False, failed.message, None, list(self.ctx.action_logs), after)
        else:
            results = copy.deepcopy(self.ctx.action_results)
            run = Run(True, "", results, list(self.ctx.action_logs), out)
        self._expose(f"{name} action", run)
        return run

    def event(self, event: Any, state: testing.State, what: str = "event") -> Run:
        self._remember_storage(state)
        out = self.ctx.run(event, state)
        run = Run(True, "", None, [], out)
        self._expose(what, run)
        return run

    def _check_hook_tools(self, what: str, run: Run) -> None:
        # ops hands results, action logs and the failure message to Juju's hook tools as
        # command-line arguments (action-set k=v ..., action-log msg, action-fail msg);
        # ops[testing] does not run them, so check here what the kernel would refuse.
        args = [f"{k}={v}" for k, v in _flatten(run.results or {})]
        args += [*run.logs, run.message]
        problems = [
            f"{arg[:60]!r}... holds a NUL byte"
            if "\0" in arg
            else f"{arg[:60]!r}... is over 128 KiB"
            for arg in args
            if "\0" in arg or len(arg.encode()) >= MAX_ARG
        ]
        assert not problems, f"{what}: Juju's hook tools could not take: {problems}"

    def _remember_storage(self, state: testing.State) -> None:
        found = [s for s in state.storages if s.name == "archives"]
        if found:
            self._storage = found[0]

    def _expose(self, what: str, run: Run) -> None:
        self.runs.append(run)
        self._check_hook_tools(what, run)
        add = self.exposure.add
        if run.results is not None:
            add(f"{what}: results", json.dumps(run.results))
        if run.message:
            add(f"{what}: failure message", run.message)
        add(f"{what}: action log", "\n".join(run.logs))
        add(f"{what}: juju-log", "\n".join(line.message for line in self.ctx.juju_log))
        add(f"{what}: unit status", f"{run.status.name}: {run.status.message}")
        add(f"{what}: app status", f"{run.state.app_status.name}: {run.state.app_status.message}")
        for stored in run.state.stored_states:
            add(f"{what}: stored state {stored.name}", json.dumps(stored.content, default=str))
        for relation in run.state.relations:
            for label, data in _databags(relation):
                add(f"{what}: relation {relation.endpoint} {label}", json.dumps(data))
        if self._storage is not None:
            self.exposure.add_files(f"{what}: archives storage", self.root())


def _flatten(results: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in results.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")  # pyright: ignore[reportUnknownArgumentType]
        else:
            yield f"{prefix}{key}", value


def _databags(relation: Any) -> Iterable[tuple[str, Any]]:
    for name in ("local_app_data", "local_unit_data", "remote_app_data", "remote_units_data"):
        if hasattr(relation, name):
            yield name, getattr(relation, name)


def credentials(endpoints: str, ca_cert: str, **override: str) -> testing.Secret:
    """The canary user's credentials secret; `override` replaces or adds secret keys."""
    content = {
        "username": CANARY_USER,
        "password": CANARY_PASSWORD,
        "endpoints": endpoints,
        "ca-cert": ca_cert,
    }
    content.update(override)
    return testing.Secret(content)


def sim_credentials(sim: Simulator, **override: str) -> testing.Secret:
    content = {"endpoints": ",".join(sim.endpoints), "ca-cert": sim.ca_cert, **override}
    endpoints = content.pop("endpoints")
    ca_cert = content.pop("ca-cert")
    return credentials(endpoints, ca_cert, **content)


def state(secret: testing.Secret, **options: Any) -> testing.State:
    return testing.State(
        config={"credentials": secret.id, "timeout": 5, **options},
        secrets=[secret],
        storages=[testing.Storage("archives")],
        leader=True,
    )


# -- what a case may have lost ----------------------------------------------------------------


def losses(root: Path, kept_before: Iterable[str] = ()) -> list[str]:
    """What is wrong with the storage after a case: each string names a loss.

    - an archive listed before the case that is gone or no longer matches its checksum;
    - an archive listed that does not match its checksum (a broken archive that looks good);
    - a half-written file left behind (``*.part``) or an archive without metadata.
    """
    catalogue = Catalogue(root)
    found: list[str] = []
    listed = {entry.id for entry in catalogue.list()}
    for backup_id in kept_before:
        if backup_id not in listed:
            found.append(f"earlier backup {backup_id} gone")
    for backup_id in sorted(listed):
        if not catalogue.verify(backup_id):
            found.append(f"listed archive {backup_id} does not match its checksum")
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.name == LOCK_NAME:
            continue
        if path.name.endswith(".part"):
            found.append(f"half-written {path.name} left")
        elif (
            path.name.endswith(".tar.gz")
            and not path.with_name(path.name[: -len(".tar.gz")] + ".json").exists()
        ):
            found.append(f"archive {path.name} without metadata left")
    return found


def lost_text(found: list[str], expected: str = "") -> str:
    """The table's "lost?" cell: "no", or what was lost."""
    parts = [*found, *([expected] if expected else [])]
    return "; ".join(parts) if parts else "no"
