"""The charm through ops[testing], with the service module replaced by a programmable fake.

What is tested here is the charm's own part: reading config and the credentials secret,
choosing defaults, turning the service's results and errors into action output and status,
and remembering the last backup. tests/functional/test_charm_failures.py runs the real service
and client against the simulated controller for the messages of each failure.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ops
import pytest
import yaml
from ops import testing

import lock
import reports
import service
from catalogue import Entry
from charm import LOCK_NAME, JujuBackupsCharm
from tests.unit.charm_fakes import MODEL_UUID, Behaviour, Call, install_fake

ROOT = Path(__file__).resolve().parents[2]
CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUQ2FUZXN0Q0Fmb3JqdWp1YmFja3Vwc0NoYXJtMAoGCCqG\n"
    "-----END CERTIFICATE-----\n"
)
OTHER_CA = CA.replace("MIIBszCC", "MIIBtDCC")
KEY_RESULT = re.compile(r"^[a-z0-9](?:[a-z0-9-.]*[a-z0-9])?$")


def charm_context(**kwargs: Any) -> testing.Context[JujuBackupsCharm]:
    """A Context with the real metadata, actions and config files.

    ops[testing] only reads charmcraft.yaml when it is a full charmcraft.yaml, and then ignores
    the actions.yaml and config.yaml beside it, so the three are handed over explicitly.
    """
    return testing.Context(
        JujuBackupsCharm,
        meta=yaml.safe_load((ROOT / "charmcraft.yaml").read_text()),
        actions=yaml.safe_load((ROOT / "actions.yaml").read_text()),
        config=yaml.safe_load((ROOT / "config.yaml").read_text()),
        **kwargs,
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Behaviour:
    behaviour = install_fake(monkeypatch, tmp_path)
    behaviour.started = datetime.datetime(2026, 12, 4, 15, 19, tzinfo=datetime.timezone.utc)
    return behaviour


def credentials_secret(**content: str) -> testing.Secret:
    base = {
        "username": "backups",
        "password": "s3cret-Pa55",
        "endpoints": "10.0.0.1:17070,10.0.0.2:17070",
        "ca-cert": CA,
    }
    base.update(content)
    return testing.Secret({k: v for k, v in base.items() if v is not None})


def ready_state(secret: testing.Secret | None = None, /, **config: Any) -> testing.State:
    secret = secret or credentials_secret()
    return testing.State(
        config={"credentials": secret.id, **config},
        secrets=[secret],
        storages=[testing.Storage("archives")],
        leader=True,
    )


def create_fails(
    ctx: testing.Context[JujuBackupsCharm], state: testing.State, **params: Any
) -> tuple[str, testing.State]:
    """Run create-backup, expecting it to fail; return the message and the state after."""
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("create-backup", params=params), state)
    after = failed.value.state
    assert isinstance(after, testing.State)
    return failed.value.message, after


def storage_root(ctx: testing.Context[JujuBackupsCharm], state: testing.State) -> Path:
    # Storage indexes count up across a test session, so look the storage up by name.
    (storage,) = (s for s in state.storages if s.name == "archives")
    return storage.get_filesystem(ctx)


def flatten(results: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in results.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))  # pyright: ignore[reportUnknownArgumentType]
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- create-backup succeeds -------------------------------------------------------------------


def test_create_backup_stores_and_reports(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state()

    out = ctx.run(ctx.on.action("create-backup", params={"notes": "before upgrade"}), state)

    results = ctx.action_results
    assert results is not None
    assert results["backup-id"] == "juju-backup-20261204-151900.tar.gz"
    archive = Path(results["archive"])
    assert archive.parent == storage_root(ctx, state)
    assert archive.read_bytes() == b"archive bytes"
    assert results["size"] == "13"
    assert results["downloaded-from"] == "10.0.0.1"
    assert results["metadata"]["notes"] == "before upgrade"
    assert results["metadata"]["version"] == "3.6.27"
    # None and Go's zero time mean "unknown": left out rather than shown as a value.
    assert "series" not in results["metadata"]
    assert "stored" not in results["metadata"]
    assert all(KEY_RESULT.match(key) for key in flatten(results))
    assert all(isinstance(value, str) for value in flatten(results).values())
    assert ctx.action_logs == [
        "creating backup on controller 3.6.27 at 10.0.0.1:17070",
        "downloading 100%",
        "checksum verified",
    ]
    assert fake.requests == ["create"]
    assert fake.calls == [Call("before upgrade", keep_copy=False, trigger="manual")]
    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert out.unit_status.message.startswith(
        "last backup juju-backup-20261204-151900.tar.gz at 2026-12-04 15:19:00 UTC (13 B)"
    )


def test_last_backup_survives_into_later_hooks(fake: Behaviour) -> None:
    ctx = charm_context()
    out = ctx.run(ctx.on.action("create-backup"), ready_state())

    later = ctx.run(ctx.on.update_status(), out)

    assert isinstance(later.unit_status, testing.ActiveStatus)
    # The leader's status goes on with the schedule.
    assert later.unit_status.message.startswith(
        "last backup juju-backup-20261204-151900.tar.gz at 2026-12-04 15:19:00 UTC (13 B); "
        "next backup "
    )


def test_service_gets_credentials_and_config(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state(
        timeout=30, **{"create-timeout": 600, "controller-model-uuid": MODEL_UUID.upper()}
    )

    ctx.run(ctx.on.action("create-backup"), state)

    (made,) = fake.services
    assert made.access.username == "backups"
    assert made.access.password == "s3cret-Pa55"
    assert made.access.endpoints == ["10.0.0.1:17070", "10.0.0.2:17070"]
    assert made.access.ca_cert == CA
    assert made.access.model_uuid == MODEL_UUID
    assert made.timeout == 30
    assert made.create_timeout == 600
    assert made.application == "juju-backups"
    assert made.lock_path == made.catalogue.root / LOCK_NAME
    assert "s3cret-Pa55" not in repr(made.access)


@pytest.mark.parametrize(
    ("config_keep", "param", "expected"),
    [(False, None, False), (True, None, True), (True, False, False), (False, True, True)],
)
def test_keep_copy_param_overrides_config(
    fake: Behaviour, config_keep: bool, param: bool | None, expected: bool
) -> None:
    ctx = charm_context()
    params = {} if param is None else {"keep-copy": param}

    ctx.run(
        ctx.on.action("create-backup", params=params), ready_state(**{"keep-copy": config_keep})
    )

    assert fake.requests == ["create"]
    (call,) = fake.calls
    assert call.keep_copy == expected


def test_defaults_come_from_the_hosting_controller(
    fake: Behaviour, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JUJU_API_ADDRESSES", "10.1.0.1:17070 10.1.0.2:17070")
    conf = tmp_path / "agents" / "unit-juju-backups-0" / "agent.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(yaml.safe_dump({"tag": "unit-juju-backups-0", "cacert": OTHER_CA}))
    ctx = charm_context()
    secret = credentials_secret(endpoints=None, **{"ca-cert": None})  # type: ignore[arg-type]

    ctx.run(ctx.on.action("create-backup"), ready_state(secret))

    (made,) = fake.services
    assert made.access.endpoints == ["10.1.0.1:17070", "10.1.0.2:17070"]
    assert made.access.ca_cert == OTHER_CA
    assert str(conf) in made.access.ca_source
    assert made.access.model_uuid is None


def test_no_address_anywhere_blocks(fake: Behaviour) -> None:
    ctx = charm_context()
    secret = credentials_secret(endpoints=None)  # type: ignore[arg-type]

    out = ctx.run(ctx.on.update_status(), ready_state(secret))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "JUJU_API_ADDRESSES is not set" in out.unit_status.message
    assert "endpoints=" in out.unit_status.message


def test_no_ca_anywhere_blocks(fake: Behaviour, tmp_path: Path) -> None:
    ctx = charm_context()
    secret = credentials_secret(**{"ca-cert": None})  # type: ignore[arg-type]

    message, _ = create_fails(ctx, ready_state(secret))

    assert "no controller CA" in message
    assert "unit-juju-backups-0/agent.conf" in message
    assert "ca-cert=" in message
    assert fake.services == []


# -- what the operator must set up ------------------------------------------------------------


def test_no_credentials_blocks_with_the_commands(fake: Behaviour) -> None:
    ctx = charm_context()
    state = testing.State(storages=[testing.Storage("archives")], leader=True)

    out = ctx.run(ctx.on.update_status(), state)

    assert isinstance(out.unit_status, testing.BlockedStatus)
    status_message = out.unit_status.message
    assert status_message.startswith("no credentials")
    for command in (
        "juju grant backups superuser",
        "juju add-secret backups-account username=backups password=",
        "juju grant-secret backups-account juju-backups",
        "juju config juju-backups credentials=secret:",
    ):
        assert command in status_message
    message, _ = create_fails(ctx, state)
    assert message == status_message
    assert fake.services == []


def test_secret_not_granted_blocks(fake: Behaviour) -> None:
    ctx = charm_context()
    missing = "secret:" + "c" * 20
    state = testing.State(
        config={"credentials": missing}, storages=[testing.Storage("archives")], leader=True
    )

    out = ctx.run(ctx.on.config_changed(), state)

    assert out.unit_status == testing.BlockedStatus(
        f"cannot read the credentials secret {missing}: run "
        f"`juju grant-secret {missing} juju-backups`"
    )
    message, _ = create_fails(ctx, state)
    assert f"juju grant-secret {missing} juju-backups" in message
    assert fake.requests == []


def test_secret_permission_denied_blocks(fake: Behaviour, monkeypatch: pytest.MonkeyPatch) -> None:
    # Juju answers a secret that exists but was not granted with a plain "permission denied".
    def denied(self: ops.Secret, *, refresh: bool = False) -> dict[str, str]:
        raise ops.ModelError("ERROR permission denied")

    monkeypatch.setattr(ops.Secret, "get_content", denied)
    ctx = charm_context()

    out = ctx.run(ctx.on.update_status(), ready_state())

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "juju grant-secret secret:" in out.unit_status.message
    assert out.unit_status.message.endswith(" juju-backups`")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"password": None}, "key 'password' is missing"),
        ({"username": None}, "key 'username' is missing"),
        ({"user": "backups"}, "key 'user' is unknown"),
        ({"endpoints": "10.0.0.1"}, "key 'endpoints' '10.0.0.1' is not host:port"),
        ({"endpoints": "10.0.0.1:99999"}, "'10.0.0.1:99999' is not host:port"),
        ({"ca-cert": "not a certificate"}, "key 'ca-cert' is not a PEM certificate"),
        ({"password": ""}, "key 'password' must not be empty"),
    ],
)
def test_bad_secret_content_blocks_naming_the_key(
    fake: Behaviour, content: dict[str, str | None], expected: str
) -> None:
    ctx = charm_context()
    secret = credentials_secret(**content)  # type: ignore[arg-type]

    out = ctx.run(ctx.on.update_status(), ready_state(secret))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert expected in out.unit_status.message
    assert f"juju update-secret {secret.id}" in out.unit_status.message


def test_private_key_in_ca_cert_is_refused_without_repeating_it(fake: Behaviour) -> None:
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\n"
        "MIIEowIBAAKCAQEA0RECOGNISABLE\n"
        "-----END RSA PRIVATE KEY-----"
    )
    ctx = charm_context()

    out = ctx.run(ctx.on.update_status(), ready_state(credentials_secret(**{"ca-cert": CA + key})))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "holds a private key" in out.unit_status.message
    assert "RECOGNISABLE" not in out.unit_status.message


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"timeout": 1},
            "invalid config: option timeout: 1 seconds is out of range: use 5 to 3600",
        ),
        ({"create-timeout": 10}, "invalid config: option create-timeout: 10 seconds is out of"),
        (
            {"controller-model-uuid": "controller"},
            "invalid config: option controller-model-uuid: 'controller' is not a model UUID",
        ),
    ],
)
def test_invalid_config_blocks_naming_the_option(
    fake: Behaviour, config: dict[str, Any], expected: str
) -> None:
    ctx = charm_context()
    state = ready_state(**config)

    out = ctx.run(ctx.on.config_changed(), state)

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith(expected)
    message, _ = create_fails(ctx, state)
    assert message.startswith(expected)
    assert fake.services == []


def test_storage_not_attached_waits(fake: Behaviour) -> None:
    ctx = charm_context()
    secret = credentials_secret()
    state = testing.State(config={"credentials": secret.id}, secrets=[secret], leader=True)

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == testing.WaitingStatus(
        "waiting for the archives storage to be attached"
    )
    message, _ = create_fails(ctx, state)
    assert "archives storage" in message


def test_ready_without_backup_says_how_to_take_one(fake: Behaviour) -> None:
    ctx = charm_context()

    out = ctx.run(ctx.on.update_status(), ready_state())

    assert isinstance(out.unit_status, testing.ActiveStatus)
    # The leader's status goes on with the schedule.
    assert out.unit_status.message.startswith(
        "ready; no backup taken yet (run create-backup); next backup "
    )
    assert fake.requests == []  # nothing remembered to recheck: update-status stays offline


# -- failures the service reports -------------------------------------------------------------

BLOCKING = [
    service.AccessDeniedError("the controller refused the login of user 'backups'"),
    service.AccessDeniedError("user 'backups' may not take backups: run `juju grant ...`"),
    service.CertificateMismatchError("the ca-cert in the secret does not match the controller"),
    service.UnsupportedControllerError("controller 3.6.27 is hosted on Kubernetes"),
    service.UnsupportedControllerError("controller 4.0.14 is Juju 4"),
    service.WrongModelError("controller-model-uuid must be the controller model's UUID"),
]
TRANSIENT = [
    service.UnavailableError("cannot reach the controller at 10.0.0.1:17070"),
    service.UnavailableError("the controller could not take a backup now (HA not ready)"),
]
THIS_ATTEMPT_ONLY = [
    service.NotEnoughSpaceError("not enough space on the archives storage"),
    service.DownloadFailedError("does not match the checksum; the download was discarded"),
    service.DownloadFailedError("the download of backup x was cut short"),
    service.BackupFailedError("the controller could not create the backup: disk full"),
]


@pytest.mark.parametrize("error", BLOCKING, ids=str)
def test_failure_the_operator_must_fix_blocks(fake: Behaviour, error: Exception) -> None:
    fake.create_error = error
    ctx = charm_context()

    message, after = create_fails(ctx, ready_state())

    assert message == str(error)
    assert after.unit_status == testing.BlockedStatus(str(error))
    assert _storage_files(ctx, after) == []


@pytest.mark.parametrize("error", TRANSIENT, ids=str)
def test_transient_failure_waits(fake: Behaviour, error: Exception) -> None:
    fake.create_error = error
    ctx = charm_context()

    message, after = create_fails(ctx, ready_state())

    assert message == str(error)
    assert after.unit_status == testing.WaitingStatus(str(error))


@pytest.mark.parametrize("error", THIS_ATTEMPT_ONLY, ids=str)
def test_failure_of_one_attempt_fails_the_action_only(fake: Behaviour, error: Exception) -> None:
    ctx = charm_context()
    first = ctx.run(ctx.on.action("create-backup"), ready_state())
    fake.create_error = error

    message, after = create_fails(ctx, first)

    assert message == str(error)
    status = after.unit_status
    assert isinstance(status, testing.ActiveStatus)
    assert status.message.startswith("last backup juju-backup-20261204-151900.tar.gz at ")
    assert "failed (see juju show-operation)" in status.message


def test_busy_is_reported_but_not_remembered(fake: Behaviour) -> None:
    fake.create_error = service.AlreadyRunningError("another backup operation is running")
    ctx = charm_context()

    message, after = create_fails(ctx, ready_state())

    assert message == "another backup operation is running"
    # The status is about the operation that holds the lock, not about the refused one.
    assert isinstance(after.unit_status, testing.ActiveStatus)
    assert "failed" not in after.unit_status.message


def test_running_operation_shows_as_maintenance(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state()
    root = storage_root(ctx, state)
    root.mkdir(parents=True, exist_ok=True)

    with lock.exclusive(root / LOCK_NAME, "create-backup (scheduled)"):
        out = ctx.run(ctx.on.update_status(), state)

    assert isinstance(out.unit_status, testing.MaintenanceStatus)
    assert out.unit_status.message.startswith("running create-backup (scheduled) (pid ")


# -- recovering --------------------------------------------------------------------------------


def test_config_change_rechecks_and_clears_a_fixed_problem(fake: Behaviour) -> None:
    fake.create_error = service.AccessDeniedError("wrong password")
    ctx = charm_context()
    _, after = create_fails(ctx, ready_state())
    assert after.unit_status == testing.BlockedStatus("wrong password")

    out = ctx.run(ctx.on.config_changed(), after)

    assert "check" in fake.requests
    assert isinstance(out.unit_status, testing.ActiveStatus)
    # The leader's status goes on with the schedule.
    assert out.unit_status.message.startswith(
        "ready; no backup taken yet (run create-backup); next backup "
    )


def test_config_change_check_reports_what_it_finds(fake: Behaviour) -> None:
    fake.check_error = service.AccessDeniedError("user 'backups' cannot see the controller model")
    ctx = charm_context()

    out = ctx.run(ctx.on.config_changed(), ready_state())

    assert out.unit_status == testing.BlockedStatus(
        "user 'backups' cannot see the controller model"
    )


def test_secret_change_tracks_the_new_revision_and_rechecks(fake: Behaviour) -> None:
    fake.check_error = service.AccessDeniedError("wrong password")
    ctx = charm_context()
    secret = credentials_secret()
    blocked = ctx.run(ctx.on.config_changed(), ready_state(secret))
    assert blocked.unit_status == testing.BlockedStatus("wrong password")
    fake.check_error = None
    changed = dataclasses.replace(
        secret, latest_content={**secret.tracked_content, "password": "n3w-Pa55"}
    )

    out = ctx.run(ctx.on.secret_changed(changed), dataclasses.replace(blocked, secrets=[changed]))

    assert isinstance(out.unit_status, testing.ActiveStatus)
    # The leader's status goes on with the schedule.
    assert out.unit_status.message.startswith(
        "ready; no backup taken yet (run create-backup); next backup "
    )
    assert fake.services[-1].access.password == "n3w-Pa55"
    assert out.get_secret(id=secret.id).tracked_content["password"] == "n3w-Pa55"


def test_update_status_rechecks_only_transient_problems(fake: Behaviour) -> None:
    fake.create_error = service.UnavailableError("cannot reach the controller")
    ctx = charm_context()
    _, waiting = create_fails(ctx, ready_state())
    assert waiting.unit_status == testing.WaitingStatus("cannot reach the controller")

    fake.check_error = service.UnavailableError("still unreachable")
    still = ctx.run(ctx.on.update_status(), waiting)
    assert still.unit_status == testing.WaitingStatus("still unreachable")

    fake.check_error = None
    out = ctx.run(ctx.on.update_status(), still)
    assert isinstance(out.unit_status, testing.ActiveStatus)
    # The leader's status goes on with the schedule.
    assert out.unit_status.message.startswith(
        "ready; no backup taken yet (run create-backup); next backup "
    )
    assert fake.requests == ["create", "check", "check"]

    # A blocked problem is not rechecked on every update-status: the operator must act.
    fake.create_error = service.AccessDeniedError("wrong password")
    _, after = create_fails(ctx, out)
    ctx.run(ctx.on.update_status(), after)
    assert fake.requests == ["create", "check", "check", "create"]


@pytest.mark.parametrize("event", ["install", "start", "upgrade_charm"])
def test_lifecycle_events_remove_half_written_files(fake: Behaviour, event: str) -> None:
    ctx = charm_context()
    state = ready_state()
    root = storage_root(ctx, state)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".juju-backup-1.tar.gz.abc123.part").write_bytes(b"partial")
    (root / "juju-backup-2.tar.gz").write_bytes(b"no metadata: never completed")
    (root / "juju-backup-3.tar.gz").write_bytes(b"complete")
    (root / "juju-backup-3.json").write_text(
        json.dumps(
            {
                "format": 1,
                "id": "juju-backup-3.tar.gz",
                "archive": "juju-backup-3.tar.gz",
                "application": "juju-backups",
                "trigger": "manual",
                "source": "10.0.0.1:17070",
                "stored-at": "2026-12-04T15:19:00Z",
                "metadata": {"id": "juju-backup-3.tar.gz"},
            }
        )
    )

    ctx.run(getattr(ctx.on, event)(), state)

    assert sorted(p.name for p in root.iterdir() if p.name != LOCK_NAME) == [
        "juju-backup-3.json",
        "juju-backup-3.tar.gz",
    ]


def test_storage_attached_cleans_up_too(fake: Behaviour) -> None:
    ctx = charm_context()
    storage = testing.Storage("archives")
    state = dataclasses.replace(ready_state(), storages=[storage])
    root = storage.get_filesystem(ctx)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".x.tar.gz.0.part").write_bytes(b"partial")

    ctx.run(ctx.on.storage_attached(storage), state)

    assert not (root / ".x.tar.gz.0.part").exists()


def _storage_files(ctx: testing.Context[JujuBackupsCharm], state: testing.State) -> list[str]:
    root = storage_root(ctx, state)
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.name != LOCK_NAME)


def test_results_never_carry_ca_material(tmp_path: Path) -> None:
    archive = tmp_path / "b1.tar.gz"
    archive.write_bytes(b"x")
    entry = Entry(
        id="b1",
        archive=archive,
        metadata={
            "id": "b1",
            "ca-cert": CA,
            "ca-private-key": "-----BEGIN RSA PRIVATE KEY-----",
            "notes": "",
            "ha-nodes": 3,
        },
        size=1,
        started=None,
        stored_at=datetime.datetime(2026, 12, 4, 15, 19, tzinfo=datetime.timezone.utc),
        application="juju-backups",
        trigger="manual",
        source="10.0.0.1:17070",
    )

    results = reports.backup_results(entry)

    assert results["metadata"] == {"id": "b1", "ha-nodes": "3"}
    assert results["stored-at"] == "2026-12-04 15:19:00 UTC"
    assert "PRIVATE" not in json.dumps(results)


def test_websocket_frames_stay_out_of_debug_log() -> None:
    # ops forwards DEBUG records to juju debug-log; websockets logs whole frames at DEBUG.
    assert logging.getLogger("websockets").getEffectiveLevel() >= logging.INFO
