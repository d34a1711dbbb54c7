"""The backups relation through the charm: requests served, answered, queued and refused.

The relation library is the real one (its own tests are tests/unit/test_backups_lib.py); so
are the charm's config, secrets, catalogue and lock. Only the backup service is replaced
(tests/unit/charm_fakes.py); tests/functional/test_relation_sim.py runs a round trip with the
test requirer charm against the simulated controller.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from ops import testing
from scenario.state import _Event  # pyright: ignore[reportPrivateUsage]

import lock
import service
from catalogue import Catalogue
from charm import LOCK_NAME
from tests.unit.charm_fakes import (
    CA,
    CONTROLLER_UUID,
    ENDPOINTS,
    PASSWORD,
    Behaviour,
    charm_context,
    decode,
    install_fake,
    ready_state,
    storage_root,
)

# The interface (docs/interface-juju_backups.md): nothing else may be written.
PROVIDER_KEYS = {
    "request-id",
    "status",
    "received-at",
    "started-at",
    "finished-at",
    "backup-id",
    "size",
    "error",
    "recent",
    "last-backup",
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Behaviour:
    return install_fake(monkeypatch, tmp_path)


def request_bag(request_id: str = "r1", **values: str) -> dict[str, str]:
    """The requirer's application data, as the library writes it (every value JSON)."""
    bag = {"request-id": request_id, "requested-at": "2026-12-01T11:59:00Z", **values}
    return {key: json.dumps(value) for key, value in bag.items()}


def relation(
    app: str = "upgrader", remote: dict[str, str] | None = None, **kwargs: Any
) -> testing.Relation:
    return testing.Relation(
        "backups",
        interface="juju_backups",
        remote_app_name=app,
        remote_app_data=remote or {},
        **kwargs,
    )


def answer(state: testing.State, rel: testing.RelationBase) -> dict[str, Any]:
    """The charm's answer in a relation: documented keys only, nothing secret."""
    databag = dict(state.get_relation(rel.id).local_app_data)
    assert set(databag) <= PROVIDER_KEYS, set(databag) - PROVIDER_KEYS
    raw = json.dumps(databag)
    for secret in (PASSWORD, CA.splitlines()[1], *ENDPOINTS.split(","), "10.0.0.1"):
        assert secret not in raw
    # No path on the unit either (the archives storage is under /tmp in these tests).
    assert "/tmp" not in raw
    assert "archives/" not in raw
    return decode(databag)


def with_remote(
    state: testing.State, rel: testing.Relation, remote: dict[str, str]
) -> tuple[testing.State, testing.Relation]:
    """`state` after the requirer wrote `remote` (the charm's own data carried over)."""
    current = state.get_relation(rel.id)
    assert isinstance(current, testing.Relation)
    changed = dataclasses.replace(current, remote_app_data=remote)
    others = [r for r in state.relations if r.id != rel.id]
    return dataclasses.replace(state, relations=[*others, changed]), changed


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- a request and its answer ----------------------------------------------------------------


def test_request_is_served_and_answered(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation(remote=request_bag("r1", notes="before the upgrade", reason="upgrade"))
    state = ready_state(relations=[rel])

    out = ctx.run(ctx.on.relation_changed(rel), state)

    (call,) = fake.calls
    assert call.trigger == "upgrader"
    assert re.fullmatch(
        rf"upgrader backup of {CONTROLLER_UUID} by juju-backups/0 at \S+Z: before the upgrade "
        r"\(reason: upgrade\)",
        call.notes,
    ), call.notes
    (entry,) = Catalogue(storage_root(ctx, out)).list()
    assert entry.trigger == "upgrader"
    data = answer(out, rel)
    assert data["request-id"] == "r1"
    assert data["status"] == "completed"
    assert data["backup-id"] == entry.id
    assert data["size"] == entry.size
    assert parse_time(data["finished-at"]) == entry.stored_at
    assert data["last-backup"] == {
        "id": entry.id,
        "finished-at": data["finished-at"],
        "size": entry.size,
    }
    assert [r["request-id"] for r in data["recent"]] == ["r1"]
    # The unit's status shows the backup like any other.
    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert out.unit_status.message.startswith(f"last backup {entry.id} at ")


def test_template_names_the_requesting_application(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation("reporting", remote=request_bag("r1"))

    ctx.run(
        ctx.on.relation_changed(rel),
        ready_state(relations=[rel], notes_template="{trigger} asked {app}"),
    )

    (call,) = fake.calls
    assert call.notes == "reporting asked juju-backups"


def test_requested_notes_are_text_not_a_template(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation(remote=request_bag("r1", notes="{controller} {unit.name} {{x}", reason="{app}"))

    ctx.run(ctx.on.relation_changed(rel), ready_state(relations=[rel], notes_template="{app}"))

    (call,) = fake.calls
    assert call.notes == "juju-backups: {controller} {unit.name} {{x} (reason: {app})"


def test_repeated_request_id_is_answered_not_run_again(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation(remote=request_bag("r1"))
    first = ctx.run(ctx.on.relation_changed(rel), ready_state(relations=[rel]))
    completed = answer(first, rel)

    # A second request, then the first id again.
    state, rel = with_remote(first, rel, request_bag("r2"))
    state = ctx.run(ctx.on.relation_changed(rel), state)
    state, rel = with_remote(state, rel, request_bag("r1"))
    out = ctx.run(ctx.on.relation_changed(rel), state)

    assert len(fake.calls) == 2
    again = answer(out, rel)
    assert (again["request-id"], again["status"], again["backup-id"]) == (
        "r1",
        "completed",
        completed["backup-id"],
    )
    assert len(Catalogue(storage_root(ctx, out)).list()) == 2


@pytest.mark.parametrize(
    ("remote", "error"),
    [
        (request_bag("r1", notes="two\nlines"), "notes: must not contain control characters"),
        (request_bag("r1", reason="x" * 201), "reason: must be at most 200 characters"),
        (request_bag("bad id!"), "request-id: must be 1 to 64 characters"),
        ({"request-id": "r1"}, "request-id: value is not JSON"),
        ({**request_bag("r1"), "notes": "3"}, "notes: Input should be a valid string"),
    ],
    ids=["newline", "long-reason", "bad-id", "not-json", "not-a-string"],
)
def test_malformed_request_is_refused_without_a_backup(
    fake: Behaviour, remote: dict[str, str], error: str
) -> None:
    ctx = charm_context()
    rel = relation(remote=remote)

    out = ctx.run(ctx.on.relation_changed(rel), ready_state(relations=[rel]))

    assert fake.calls == []
    data = answer(out, rel)
    assert data["status"] == "failed"
    assert error in data["error"]
    assert isinstance(out.unit_status, testing.ActiveStatus)


def test_failure_is_answered_without_addresses_or_paths(fake: Behaviour) -> None:
    fake.errors = [
        service.NotEnoughSpaceError(
            "not enough space on the archives storage (/var/lib/juju-backups/archives) for "
            "backup x: it needs 2.0 GiB and 1.0 GiB is free"
        )
    ]
    ctx = charm_context()
    rel = relation(remote=request_bag("r1"))

    out = ctx.run(ctx.on.relation_changed(rel), ready_state(relations=[rel]))

    data = answer(out, rel)
    assert data["status"] == "failed"
    assert data["error"] == (
        "backup failed: there is not enough space on the archives storage of juju-backups "
        "(the status and debug-log of juju-backups say more)"
    )
    assert "/var/lib" not in json.dumps(data)
    assert "last-backup" not in data


def test_unreachable_controller_fails_the_request_and_the_rest_wait(fake: Behaviour) -> None:
    fake.errors = [service.UnavailableError("cannot reach the controller at 10.0.0.1:17070")]
    ctx = charm_context()
    first, second = relation("one", remote=request_bag("a")), relation("two")
    state = ready_state(relations=[first, second])

    state = ctx.run(ctx.on.relation_changed(first), state)
    assert answer(state, first)["error"].startswith(
        "backup failed: the controller is unreachable or busy; ask again later"
    )
    assert state.unit_status == testing.WaitingStatus(
        "cannot reach the controller at 10.0.0.1:17070"
    )

    # A request that arrives while the charm knows the controller is down waits...
    state, second = with_remote(state, second, request_bag("b"))
    state = ctx.run(ctx.on.relation_changed(second), state)
    assert answer(state, second)["status"] == "pending"
    assert len(fake.calls) == 1

    # ...until update-status finds the controller back.
    out = ctx.run(ctx.on.update_status(), state)
    assert fake.checks == 1
    assert answer(out, second)["status"] == "completed"
    assert [c.trigger for c in fake.calls] == ["one", "two"]


def test_requests_wait_for_credentials(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation(remote=request_bag("r1"))
    state = ready_state(relations=[rel])
    unconfigured = dataclasses.replace(state, config={})

    waiting = ctx.run(ctx.on.relation_changed(rel), unconfigured)

    assert fake.calls == []
    assert answer(waiting, rel)["status"] == "pending"
    assert isinstance(waiting.unit_status, testing.BlockedStatus)

    configured = dataclasses.replace(waiting, config=state.config)
    out = ctx.run(ctx.on.config_changed(), configured)

    assert answer(out, rel)["status"] == "completed"
    assert len(fake.calls) == 1


# -- one at a time ---------------------------------------------------------------------------


def test_request_while_another_backup_runs_waits_for_it(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation(remote=request_bag("r1"))
    state = ready_state(relations=[rel])
    root = storage_root(ctx, state)

    with lock.exclusive(root / LOCK_NAME, "create-backup (manual)"):
        busy = ctx.run(ctx.on.relation_changed(rel), state)
        also_busy = ctx.run(ctx.on.update_status(), busy)

    assert fake.calls == []
    assert answer(also_busy, rel)["status"] == "pending"
    assert isinstance(also_busy.unit_status, testing.MaintenanceStatus)

    out = ctx.run(ctx.on.update_status(), also_busy)

    assert answer(out, rel)["status"] == "completed"
    assert len(fake.calls) == 1


def test_queued_requests_are_served_in_order_one_backup_each(fake: Behaviour) -> None:
    ctx = charm_context()
    first, second = relation("first"), relation("second")
    state = ready_state(relations=[first, second])
    root = storage_root(ctx, state)
    with lock.exclusive(root / LOCK_NAME, "create-backup (manual)"):
        state, first = with_remote(state, first, request_bag("a"))
        state = ctx.run(ctx.on.relation_changed(first), state)
        state, second = with_remote(state, second, request_bag("b"))
        state = ctx.run(ctx.on.relation_changed(second), state)
    assert fake.calls == []

    out = ctx.run(ctx.on.update_status(), state)

    assert [c.trigger for c in fake.calls] == ["first", "second"]
    a, b = answer(out, first), answer(out, second)
    assert (a["status"], b["status"]) == ("completed", "completed")
    assert a["backup-id"] != b["backup-id"]
    # Every relation sees the newest backup as the last one.
    assert a["last-backup"] == b["last-backup"]
    assert a["last-backup"]["id"] == b["backup-id"]


def test_the_backup_runs_under_the_lock_and_only_once(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation(remote=request_bag("r1"))
    state = ready_state(relations=[rel])
    root = storage_root(ctx, state)
    holders: list[str | None] = []
    fake.during_create = lambda: holders.append(lock.holder(root / LOCK_NAME))

    out = ctx.run(ctx.on.relation_changed(rel), state)
    out = ctx.run(ctx.on.update_status(), out)
    out = ctx.run(ctx.on.leader_elected(), out)

    assert len(fake.calls) == 1
    assert holders[0] is not None
    assert holders[0].startswith("create-backup (upgrader)")
    assert answer(out, rel)["status"] == "completed"


# -- relations going away --------------------------------------------------------------------


def test_relation_removed_before_its_request_ran(fake: Behaviour) -> None:
    ctx = charm_context()
    gone, staying = relation("gone"), relation("staying")
    state = ready_state(relations=[gone, staying])
    root = storage_root(ctx, state)
    with lock.exclusive(root / LOCK_NAME, "create-backup (manual)"):
        state, gone = with_remote(state, gone, request_bag("g"))
        state = ctx.run(ctx.on.relation_changed(gone), state)
        state, staying = with_remote(state, staying, request_bag("s"))
        state = ctx.run(ctx.on.relation_changed(staying), state)

    broken = ctx.run(ctx.on.relation_broken(state.get_relation(gone.id)), state)
    assert fake.calls == []
    staying = broken.get_relation(staying.id)
    out = ctx.run(ctx.on.update_status(), dataclasses.replace(broken, relations=[staying]))

    assert [c.trigger for c in fake.calls] == ["staying"]
    assert answer(out, staying)["status"] == "completed"


def test_relation_removed_while_its_backup_runs(fake: Behaviour) -> None:
    ctx = charm_context()
    leaving, other = relation("leaving", remote=request_bag("l")), relation("other")
    state = ready_state(relations=[leaving, other])

    with ctx(ctx.on.relation_changed(leaving), state) as manager:
        model = manager.charm.model

        def remove_the_relation() -> None:
            # What the charm sees of a relation Juju removed meanwhile: no longer active.
            found = model.get_relation("backups", leaving.id)
            assert found is not None
            found.active = False

        fake.during_create = remove_the_relation
        out = manager.run()

    (entry,) = Catalogue(storage_root(ctx, out)).list()
    # Not answered there (nowhere to answer), but the backup is kept and shown elsewhere.
    assert answer(out, leaving)["status"] == "running"
    assert answer(out, other)["last-backup"]["id"] == entry.id
    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert out.unit_status.message.startswith(f"last backup {entry.id} at ")


def test_running_request_of_a_removed_relation_does_not_block_the_queue(
    fake: Behaviour,
) -> None:
    ctx = charm_context()
    # A previous leader marked this request running and went away before answering it.
    left_running = {
        "request-id": json.dumps("l"),
        "status": json.dumps("running"),
        "received-at": json.dumps("2026-12-01T12:00:00Z"),
        "started-at": json.dumps("2026-12-01T12:00:01Z"),
    }
    leaving = relation("leaving", remote=request_bag("l"), local_app_data=left_running)
    other = relation("other")
    state = ready_state(relations=[leaving, other])
    state = ctx.run(ctx.on.relation_broken(leaving), state)
    state = dataclasses.replace(state, relations=[state.get_relation(other.id)])
    state, other = with_remote(state, other, request_bag("o"))

    out = ctx.run(ctx.on.relation_changed(other), state)

    assert [c.trigger for c in fake.calls] == ["other"]
    assert answer(out, other)["status"] == "completed"


# -- leadership ------------------------------------------------------------------------------


def test_a_follower_neither_serves_nor_writes(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation(remote=request_bag("r1"))

    out = ctx.run(ctx.on.relation_changed(rel), ready_state(leader=False, relations=[rel]))
    out = ctx.run(ctx.on.update_status(), out)

    assert fake.calls == []
    assert dict(out.get_relation(rel.id).local_app_data) == {}


def test_new_leader_serves_what_the_previous_one_left_pending(fake: Behaviour) -> None:
    ctx = charm_context()
    pending = {
        "request-id": json.dumps("r1"),
        "status": json.dumps("pending"),
        "received-at": json.dumps("2026-12-01T12:00:00Z"),
    }
    rel = relation(remote=request_bag("r1"), local_app_data=pending)

    out = ctx.run(ctx.on.leader_elected(), ready_state(relations=[rel]))

    assert [c.trigger for c in fake.calls] == ["upgrader"]
    data = answer(out, rel)
    assert (data["request-id"], data["status"]) == ("r1", "completed")
    assert data["received-at"] == "2026-12-01T12:00:00Z"  # its place in the queue kept


def test_new_leader_runs_again_what_the_previous_one_left_running(fake: Behaviour) -> None:
    ctx = charm_context()
    running = {
        "request-id": json.dumps("r1"),
        "status": json.dumps("running"),
        "received-at": json.dumps("2026-12-01T12:00:00Z"),
        "started-at": json.dumps("2026-12-01T12:00:01Z"),
    }
    rel = relation(remote=request_bag("r1"), local_app_data=running)

    out = ctx.run(ctx.on.leader_elected(), ready_state(relations=[rel]))

    # At least once: the previous leader's backup may never have finished.
    assert len(fake.calls) == 1
    data = answer(out, rel)
    assert (data["status"], data["started-at"] > "2026-12-01T12:00:01Z") == ("completed", True)


# -- the last backup -------------------------------------------------------------------------


def test_scheduled_and_manual_backups_are_published(fake: Behaviour) -> None:
    ctx = charm_context()
    rel = relation()
    state = ready_state(relations=[rel])

    scheduled = ctx.run(_Event("scheduled-backup"), state)
    first = answer(scheduled, rel)["last-backup"]
    manual = ctx.run(ctx.on.action("create-backup"), scheduled)
    second = answer(manual, rel)["last-backup"]

    entries = Catalogue(storage_root(ctx, manual)).list()
    assert [second["id"], first["id"]] == [e.id for e in entries]
    assert second["size"] == entries[0].size
    # Only the summary: no request was made over this relation.
    assert set(answer(manual, rel)) == {"last-backup"}


def test_a_new_relation_learns_the_last_backup_from_the_storage(fake: Behaviour) -> None:
    ctx = charm_context()
    first = ctx.run(ctx.on.action("create-backup"), ready_state())
    (entry,) = Catalogue(storage_root(ctx, first)).list()
    rel = relation("newcomer")

    out = ctx.run(
        ctx.on.relation_joined(rel, remote_unit=0), dataclasses.replace(first, relations=[rel])
    )

    assert answer(out, rel)["last-backup"] == {
        "id": entry.id,
        "finished-at": entry.stored_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "size": entry.size,
    }


def test_relations_cannot_reach_restore_or_remove(fake: Behaviour) -> None:
    # The provider only ever runs create: whatever keys a requirer writes, no other operation
    # is reachable from relation data.
    ctx = charm_context()
    remote = {
        **request_bag("r1"),
        "action": json.dumps("restore"),
        "backup-id": json.dumps("juju-backup-x.tar.gz"),
        "remove": json.dumps(["juju-backup-x.tar.gz"]),
    }
    rel = relation(remote=remote)

    out = ctx.run(ctx.on.relation_changed(rel), ready_state(relations=[rel]))

    assert [c.trigger for c in fake.calls] == ["upgrader"]
    assert answer(out, rel)["status"] == "completed"
