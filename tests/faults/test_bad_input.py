"""Every action parameter and config option with wrong types, empty, huge and hostile values.

Each case starts from a unit holding one good backup, feeds one bad value through the whole
charm, and checks: the charm refuses it with a message naming what is wrong (or, where the
value is merely odd, does the safe thing), no hook crashes, the good backup is still there and
intact, and nothing outside the storage is touched. Wrong JSON types never reach a charm
(Juju checks actions.yaml and config.yaml first); those cases switch ops[testing]'s own
checks off to prove the charm refuses them too.
"""

# The case tables read best one case per line.
# ruff: noqa: E501

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ops import testing

from tests.faults.conftest import Record
from tests.faults.harness import (
    CANARY_PASSWORD,
    Charm,
    losses,
    lost_text,
    sim_credentials,
    state,
)
from tests.jujusim import Simulator

Start = Callable[..., Simulator]
HUGE = "x" * 300_000
HOSTILE_IDS = {
    "empty": "",
    "path traversal": "../../etc/passwd",
    "absolute path": "/etc/passwd",
    "dot-dot": "..",
    "the lock file": ".juju-backups.lock",
    "a metadata file": "{id}.json",
    "NUL": "abc\x00def",
    "control characters": "abc\x1b[31m\r\ndef",
    "template trick": "{app.__class__}",
    "format index": "{0}",
    "huge": HUGE,
    "glob": "*",
}


def seeded(charm: Charm, sim: Simulator, **options: Any) -> tuple[str, testing.State]:
    first = charm.action("create-backup", state(sim_credentials(sim), **options))
    assert first.ok, first.message
    assert first.results is not None
    # The case's own backup must not start in the seed's second (it would share its name).
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    sim.set_clock(lambda: later)
    return first.results["backup-id"], first.state


def outside_files(charm: Charm) -> list[str]:
    """Every file of the charm's sandbox but the archives storage itself."""
    root = charm.root()
    return sorted(str(p) for p in root.parent.parent.rglob("*") if root not in (p, *p.parents))


def fill(value: Any, backup_id: str) -> Any:
    return value.replace("{id}", backup_id) if isinstance(value, str) else value


# -- action parameters ---------------------------------------------------------------------------

# (action, params, wrong JSON type?, succeeds?, said in the message)
ACTION_CASES: list[tuple[str, str, dict[str, Any], bool, bool, str]] = [
    ("create notes: template trick", "create-backup", {"notes": "{app.__class__}"}, False, True, ""),
    ("create notes: NUL and escapes", "create-backup", {"notes": "a\x00b\x1b[2Jc\nd"}, False, True, ""),
    ("create notes: huge", "create-backup", {"notes": HUGE}, False, True, ""),
    ("create notes: bidi override", "create-backup", {"notes": "abc\u202edef"}, False, True, ""),
    ("create notes: wrong type", "create-backup", {"notes": 42}, True, False, "notes"),
    ("create keep-copy: wrong type", "create-backup", {"keep-copy": "yes"}, True, False, "keep"),
    ("create: unknown param (ops drops it; Juju refuses it first)", "create-backup", {"force": True}, True, True, ""),
    ("prune dry-run: the string 'false'", "prune-backups", {"dry-run": "false"}, True, False, "dry"),
    ("prune dry-run: wrong type 0", "prune-backups", {"dry-run": 0}, True, False, "dry"),
    ("list format: unknown", "list-backups", {"format": "xml"}, False, False, "format"),
    ("list format: wrong type", "list-backups", {"format": 1}, True, False, "format"),
    ("restore timeout: negative", "restore", {"backup-id": "{id}", "timeout": -1}, False, False, "timeout"),
    ("restore timeout: huge", "restore", {"backup-id": "{id}", "timeout": 10**12}, False, False, "timeout"),
    ("restore confirm: the string 'true'", "restore", {"backup-id": "{id}", "confirm": "true"}, True, False, "confirm"),
    ("show backup-id: wrong type", "show-backup", {"backup-id": 7}, True, False, "backup"),
    ("remove backup-ids: wrong type", "remove-backups", {"backup-ids": ["a"]}, True, False, "backup"),
]  # fmt: skip
for _label, _value in HOSTILE_IDS.items():
    ACTION_CASES += [
        (f"show backup-id: {_label}", "show-backup", {"backup-id": _value}, False, False, ""),
        (f"remove backup-ids: {_label}", "remove-backups", {"backup-ids": _value}, False, False, ""),
        (f"restore backup-id: {_label}", "restore", {"backup-id": _value}, False, False, ""),
    ]  # fmt: skip
ACTION_CASES += [
    ("remove backup-ids: 5000 unknown ids", "remove-backups", {"backup-ids": " ".join(f"id{n}" for n in range(5000))}, False, False, ""),
    ("remove backup-ids: separators only", "remove-backups", {"backup-ids": " , ,\t"}, False, False, ""),
    ("remove backup-ids: the good one via traversal", "remove-backups", {"backup-ids": "../archives/{id}"}, False, False, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "action", "params", "wrong_type", "succeeds", "said"),
    ACTION_CASES,
    ids=[c[0] for c in ACTION_CASES],
)
def test_action_param(
    controller: Start,
    charm: Charm,
    record: Record,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    action: str,
    params: dict[str, Any],
    wrong_type: bool,
    succeeds: bool,
    said: str,
) -> None:
    sim = controller("2.8.11")
    good, ready = seeded(charm, sim)
    before = outside_files(charm)
    if wrong_type:
        monkeypatch.setenv("SCENARIO_SKIP_CONSISTENCY_CHECKS", "1")

    run = charm.action(action, ready, **{k: fill(v, good) for k, v in params.items()})

    assert run.ok == succeeds, run.message
    if not succeeds:
        assert run.message
        assert said in run.message
    if run.ok and action == "create-backup":
        assert run.results is not None
        stored = str(run.results["metadata"].get("notes", ""))
        assert stored.isprintable()
        assert len(stored) <= 512
    found = losses(charm.root(), kept_before=[good])
    assert outside_files(charm) == before
    record(f"action {case}", run.describe(), lost_text(found))
    assert found == []


# -- config options ------------------------------------------------------------------------------

# (case, option, value, wrong JSON type?, said in the Blocked status; "" = taken as Juju
# would convert it: `juju config` turns "60" and "yes" into the option's type itself)
CONFIG_CASES: list[tuple[str, str, Any, bool, str]] = [
    ("controller-model-uuid: path traversal", "controller-model-uuid", "../../etc/passwd", False, "controller-model-uuid"),
    ("controller-model-uuid: huge", "controller-model-uuid", HUGE, False, "controller-model-uuid"),
    ("controller-model-uuid: NUL", "controller-model-uuid", "\x00", False, "controller-model-uuid"),
    ("timeout: zero", "timeout", 0, False, "timeout"),
    ("timeout: negative", "timeout", -5, False, "timeout"),
    ("timeout: huge", "timeout", 10**15, False, "timeout"),
    ("timeout: the string '60'", "timeout", "60", True, ""),
    ("create-timeout: negative", "create-timeout", -1, False, "create-timeout"),
    ("keep-copy: the string 'yes'", "keep-copy", "yes", True, ""),
    ("keep-copy: a list", "keep-copy", [True], True, "keep-copy"),
    ("schedule: cron line injection", "schedule", "0 0 * * *\n* * * * * root touch /tmp/pwned", False, "schedule"),
    ("schedule: seven fields", "schedule", "* * * * * * *", False, "schedule"),
    ("schedule: @reboot", "schedule", "@reboot", False, "schedule"),
    ("schedule: out of range", "schedule", "61 25 32 13 8", False, "schedule"),
    ("schedule: huge", "schedule", HUGE, False, "schedule"),
    ("schedule: NUL", "schedule", "0 0 * * *\x00", False, "schedule"),
    ("schedule: wrong type", "schedule", 5, True, "schedule"),
    ("notes-template: attribute access", "notes-template", "{app.__class__}", False, "notes-template"),
    ("notes-template: index", "notes-template", "{0}", False, "notes-template"),
    ("notes-template: globals", "notes-template", "{unit.__init__.__globals__}", False, "notes-template"),
    ("notes-template: conversion", "notes-template", "{trigger!r}", False, "notes-template"),
    ("notes-template: huge format spec", "notes-template", "{trigger:>999999999}", False, "notes-template"),
    ("notes-template: unclosed brace", "notes-template", "{trigger", False, "notes-template"),
    ("notes-template: NUL", "notes-template", "a\x00b", False, "notes-template"),
    ("notes-template: huge", "notes-template", HUGE, False, "notes-template"),
    ("retention-count: negative", "retention-count", -1, False, "retention-count"),
    ("retention-days: huge", "retention-days", 10**15, False, "retention-days"),
    ("retention-count: the string '7'", "retention-count", "7", True, ""),
    ("retention-count: the string 'seven'", "retention-count", "seven", True, "retention-count"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "option", "value", "wrong_type", "said"),
    CONFIG_CASES,
    ids=[c[0] for c in CONFIG_CASES],
)
def test_config_option(
    controller: Start,
    charm: Charm,
    record: Record,
    monkeypatch: pytest.MonkeyPatch,
    cron_dir: Path,
    case: str,
    option: str,
    value: Any,
    wrong_type: bool,
    said: str,
) -> None:
    sim = controller("3.6.27")
    good, ready = seeded(charm, sim)
    bad = dataclasses.replace(ready, config={**ready.config, option: value})
    if wrong_type:
        monkeypatch.setenv("SCENARIO_SKIP_CONSISTENCY_CHECKS", "1")

    changed = charm.event(charm.ctx.on.config_changed(), bad, f"config-changed {option}")
    run = charm.action("create-backup", changed.state)

    # The schedule never reaches cron when it is refused.
    assert all("pwned" not in p.read_text() for p in cron_dir.iterdir())
    found = losses(charm.root(), kept_before=[good])
    if said:
        assert isinstance(changed.status, testing.BlockedStatus), changed.status
        assert f"option {said}" in changed.status.message
        assert not run.ok
        assert run.message == changed.status.message
        assert sum(1 for c in sim.calls if c.method == "Create") == 1  # the seed's only
        outcome = f"Blocked: {changed.status.message}"
    else:
        assert not isinstance(changed.status, testing.BlockedStatus), changed.status
        assert run.ok, run.message
        outcome = f"taken as Juju converts it; then {run.describe()}"
    record(f"config {case}", outcome, lost_text(found))
    assert found == []


# -- the credentials secret ----------------------------------------------------------------------

SECRET_CASES: list[tuple[str, dict[str, str], str]] = [
    ("username: a machine's name", {"username": "machine-0"}, "refused the login"),
    ("username: newline", {"username": "admin\nsuperuser"}, "username"),
    ("username: NUL", {"username": "ad\x00min"}, "username"),
    ("username: path traversal", {"username": "../../etc"}, "username"),
    ("username: huge", {"username": HUGE}, "username"),
    ("password: empty", {"password": ""}, "password"),
    ("endpoints: a URL", {"endpoints": "https://evil.example:17070/api"}, "endpoints"),
    ("endpoints: port 0", {"endpoints": "127.0.0.1:0"}, "endpoints"),
    ("endpoints: port 99999", {"endpoints": "127.0.0.1:99999"}, "endpoints"),
    ("endpoints: shell", {"endpoints": "127.0.0.1:17070;rm -rf /"}, "endpoints"),
    ("endpoints: huge", {"endpoints": HUGE}, "endpoints"),
    ("ca-cert: garbage", {"ca-cert": "not a certificate"}, "ca-cert"),
    ("ca-cert: bad base64", {"ca-cert": "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----"}, "ca-cert"),
    ("ca-cert: holds a private key", {"ca-cert": "{key}"}, "private key"),
    ("unknown key: insecure-skip-verify", {"insecure-skip-verify": "true"}, "insecure-skip-verify"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "content", "said"), SECRET_CASES, ids=[c[0] for c in SECRET_CASES]
)
def test_credentials_secret(
    controller: Start,
    charm: Charm,
    record: Record,
    case: str,
    content: dict[str, str],
    said: str,
) -> None:
    sim = controller("3.6.27")
    good, ready = seeded(charm, sim)
    values = {k: v.replace("{key}", sim.ca_cert + sim.ca_private_key) for k, v in content.items()}
    secret = sim_credentials(sim, **values)
    bad = dataclasses.replace(
        ready, secrets=[secret], config={**ready.config, "credentials": secret.id}
    )

    run = charm.action("create-backup", bad)

    assert not run.ok
    assert said in run.message
    assert isinstance(run.status, testing.BlockedStatus)
    assert sim.ca_private_key_marker not in run.message
    assert CANARY_PASSWORD not in run.message
    if "password" in values and len(values["password"]) > 3:
        assert values["password"] not in run.message
    assert sum(1 for c in sim.calls if c.method == "Create") == 1
    found = losses(charm.root(), kept_before=[good])
    record(f"secret {case}", run.describe(), lost_text(found))
    assert found == []


def test_credentials_not_a_secret(
    controller: Start, charm: Charm, record: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = controller("3.6.27")
    monkeypatch.setenv("SCENARIO_SKIP_CONSISTENCY_CHECKS", "1")  # Juju checks the URI first
    good, ready = seeded(charm, sim)
    bad = dataclasses.replace(
        ready, config={**ready.config, "credentials": "secret:doesnotexist0000000000"}
    )

    run = charm.action("create-backup", bad)

    assert not run.ok
    assert isinstance(run.status, testing.BlockedStatus)
    assert "credentials" in run.message
    found = losses(charm.root(), kept_before=[good])
    record("config credentials: a secret that does not exist", run.describe(), lost_text(found))
    assert found == []
