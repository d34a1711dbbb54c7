"""A round trip over the backups relation: the test requirer charm asks, this charm backs up.

Both charms run through ops[testing] with their real code (the requirer is tests/charms/requirer,
using the library as any charm would); the relation data one side writes is handed to the other
as Juju would. This charm takes a real backup from the simulated controller.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from charms.juju_backups.v0.backups import BackupCompletedEvent, BackupFailedEvent
from ops import testing

import service
from catalogue import Catalogue
from charm import JujuBackupsCharm
from tests.charms.requirer.src.charm import BackupsRequirerCharm
from tests.conftest import MakeSim
from tests.jujusim import Simulator

ROOT = Path(__file__).resolve().parents[2]
REQUIRER = yaml.safe_load((ROOT / "tests/charms/requirer/charmcraft.yaml").read_text())


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RETRY_BACKOFF", 0.0)


def provider_context() -> testing.Context[JujuBackupsCharm]:
    # ops[testing] ignores actions.yaml and config.yaml beside a full charmcraft.yaml.
    return testing.Context(
        JujuBackupsCharm,
        meta=yaml.safe_load((ROOT / "charmcraft.yaml").read_text()),
        actions=yaml.safe_load((ROOT / "actions.yaml").read_text()),
        config=yaml.safe_load((ROOT / "config.yaml").read_text()),
    )


def requirer_context() -> testing.Context[BackupsRequirerCharm]:
    meta = {k: v for k, v in REQUIRER.items() if k != "actions"}
    return testing.Context(BackupsRequirerCharm, meta=meta, actions=REQUIRER["actions"])


def provider_state(sim: Simulator, relation: testing.Relation) -> testing.State:
    secret = testing.Secret(
        {
            "username": sim.username,
            "password": sim.password,
            "endpoints": ",".join(sim.endpoints),
            "ca-cert": sim.ca_cert,
        }
    )
    return testing.State(
        config={"credentials": secret.id, "timeout": 10},
        secrets=[secret],
        storages=[testing.Storage("archives")],
        relations=[relation],
        leader=True,
    )


def handed_over(
    state: testing.State, relation: testing.Relation, remote: dict[str, str]
) -> tuple[testing.State, testing.Relation]:
    """`state` once the other side's application data `remote` has reached it."""
    current = state.get_relation(relation.id)
    assert isinstance(current, testing.Relation)
    changed = dataclasses.replace(current, remote_app_data=remote)
    others = [r for r in state.relations if r.id != relation.id]
    return dataclasses.replace(state, relations=[*others, changed]), changed


def answers(ctx: testing.Context[Any]) -> list[BackupCompletedEvent | BackupFailedEvent]:
    return [
        e for e in ctx.emitted_events if isinstance(e, BackupCompletedEvent | BackupFailedEvent)
    ]


def assert_nothing_secret(sim: Simulator, databag: dict[str, str]) -> None:
    raw = json.dumps(databag)
    assert sim.password not in raw
    assert "CERTIFICATE" not in raw
    assert "PRIVATE KEY" not in raw
    for endpoint in sim.endpoints:
        assert endpoint not in raw
    assert "/" not in raw.replace("\\/", "")  # no path on the unit


def ask(
    requirer: testing.Context[BackupsRequirerCharm], state: testing.State, **params: str
) -> tuple[testing.State, str]:
    state = requirer.run(requirer.on.action("request-backup", params=params), state)
    assert requirer.action_results is not None
    return state, requirer.action_results["request-id"]


def test_round_trip_with_the_test_requirer(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    requirer, provider = requirer_context(), provider_context()
    req_rel = testing.Relation("backups", remote_app_name="juju-backups")
    req_state = testing.State(leader=True, relations=[req_rel])

    # 1. The requirer's leader asks.
    req_state, request_id = ask(requirer, req_state, notes="before the upgrade", reason="upgrade")
    assert req_state.unit_status == testing.WaitingStatus(f"waiting for backup {request_id}")
    asked = dict(req_state.get_relation(req_rel.id).local_app_data)

    # 2. juju-backups' leader sees the request, takes the backup and answers.
    prov_rel = testing.Relation(
        "backups", remote_app_name="backups-requirer", remote_app_data=asked
    )
    prov_state = provider.run(
        provider.on.relation_changed(prov_rel), provider_state(sim, prov_rel)
    )
    answered = dict(prov_state.get_relation(prov_rel.id).local_app_data)
    assert_nothing_secret(sim, answered)

    (create,) = [c for c in sim.calls if (c.facade, c.method) == ("Backups", "Create")]
    assert re.fullmatch(
        rf"backups-requirer backup of {sim.controller_uuid} by juju-backups/0 at \S+Z: "
        r"before the upgrade \(reason: upgrade\)",
        create.params["notes"],
    ), create.params["notes"]
    (storage,) = prov_state.storages
    (entry,) = Catalogue(storage.get_filesystem(provider)).list()
    assert entry.trigger == "backups-requirer"

    # 3. The requirer learns the result.
    req_state, req_rel = handed_over(req_state, req_rel, answered)
    req_state = requirer.run(requirer.on.relation_changed(req_rel), req_state)
    (done,) = answers(requirer)
    assert isinstance(done, BackupCompletedEvent)
    assert (done.request_id, done.backup_id, done.size) == (request_id, entry.id, entry.size)
    assert done.finished_at == entry.stored_at
    assert req_state.unit_status == testing.ActiveStatus(f"last backup {entry.id}")
    requirer.run(requirer.on.action("get-result"), req_state)
    assert requirer.action_results is not None
    assert requirer.action_results["status"] == "completed"
    assert requirer.action_results["backup-id"] == entry.id

    # 4. The same request id again: answered from the result, no second backup.
    req_state, again = ask(requirer, req_state, **{"request-id": request_id})
    assert again == request_id
    prov_state, prov_rel = handed_over(
        prov_state, prov_rel, dict(req_state.get_relation(req_rel.id).local_app_data)
    )
    prov_state = provider.run(provider.on.relation_changed(prov_rel), prov_state)
    assert len([c for c in sim.calls if c.method == "Create"]) == 1


def test_failed_backup_reaches_the_requirer_without_details(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27", archive_size=1 << 20)
    sim.download_fault(truncate_at=1000)
    requirer, provider = requirer_context(), provider_context()
    req_rel = testing.Relation("backups", remote_app_name="juju-backups")
    req_state, request_id = ask(requirer, testing.State(leader=True, relations=[req_rel]))
    asked = dict(req_state.get_relation(req_rel.id).local_app_data)

    prov_rel = testing.Relation(
        "backups", remote_app_name="backups-requirer", remote_app_data=asked
    )
    prov_state = provider.run(
        provider.on.relation_changed(prov_rel), provider_state(sim, prov_rel)
    )
    answered = dict(prov_state.get_relation(prov_rel.id).local_app_data)
    assert_nothing_secret(sim, answered)
    (storage,) = prov_state.storages
    assert Catalogue(storage.get_filesystem(provider)).list() == []

    req_state, req_rel = handed_over(req_state, req_rel, answered)
    req_state = requirer.run(requirer.on.relation_changed(req_rel), req_state)
    (failed,) = answers(requirer)
    assert isinstance(failed, BackupFailedEvent)
    assert failed.request_id == request_id
    assert failed.error == (
        "backup failed: the archive could not be downloaded and verified; ask again (the "
        "status and debug-log of juju-backups say more)"
    )
