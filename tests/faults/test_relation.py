"""Relation data that is malformed, oversized or replayed, through the charm and the simulator.

A related application controls its own databag completely: whatever it writes, no hook may
crash, no backup may be taken for a request that is not valid, a request id seen before is
answered from its earlier result without a second backup, and the charm's answer holds only
the documented keys and nothing secret.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from ops import testing

from tests.faults.conftest import Record
from tests.faults.harness import Charm, losses, lost_text, sim_credentials, state
from tests.jujusim import Simulator

Start = Callable[..., Simulator]
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


def bag(request_id: Any = "r1", **values: Any) -> dict[str, str]:
    """The requirer's application data as the library writes it: every value JSON."""
    data = {"request-id": request_id, "requested-at": "2026-12-04T16:00:00Z", **values}
    return {key: json.dumps(value) for key, value in data.items()}


def relation(remote: dict[str, str], app: str = "upgrader") -> testing.Relation:
    return testing.Relation(
        "backups", interface="juju_backups", remote_app_name=app, remote_app_data=remote
    )


def answer(out: testing.State, rel: testing.Relation) -> dict[str, Any]:
    databag = dict(out.get_relation(rel.id).local_app_data)
    assert set(databag) <= PROVIDER_KEYS, set(databag) - PROVIDER_KEYS
    return {key: json.loads(value) for key, value in databag.items()}


def creates(sim: Simulator) -> int:
    return sum(1 for c in sim.calls if c.method == "Create")


def later(sim: Simulator) -> None:
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    sim.set_clock(lambda: when)


def seeded(charm: Charm, sim: Simulator) -> tuple[str, testing.State]:
    first = charm.action("create-backup", state(sim_credentials(sim)))
    assert first.ok, first.message
    assert first.results is not None
    later(sim)
    return first.results["backup-id"], first.state


MALFORMED: list[tuple[str, dict[str, str], str]] = [
    ("a value that is not JSON", {"request-id": "r1"}, "request-id"),
    ("request-id of the wrong type", bag(5), "request-id"),
    ("request-id with path traversal", bag("../../etc/passwd"), "request-id"),
    ("request-id with NUL", bag("r\x001"), "request-id"),
    ("request-id huge", bag("r" * 100_000), "request-id"),
    ("notes huge", bag(notes="n" * 1_000_000), "notes"),
    ("notes with NUL and escapes", bag(notes="a\x00b\x1b[2J"), "notes"),
    ("notes of the wrong type", bag(notes={"a": 1}), "notes"),
    ("reason huge", bag(reason="r" * 10_000), "reason"),
    ("requested-at not a time", bag(**{"requested-at": "yesterday"}), "requested-at"),
    ("no request-id", {"notes": json.dumps("hello")}, "request-id"),
    ("a 4 MiB databag of unknown keys", {**bag(), **{f"k{n}": "x" * 4096 for n in range(1024)}}, ""),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("case", "remote", "said"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_request(
    controller: Start,
    charm: Charm,
    record: Record,
    case: str,
    remote: dict[str, str],
    said: str,
) -> None:
    sim = controller()
    good, ready = seeded(charm, sim)
    rel = relation(remote)

    run = charm.event(
        charm.ctx.on.relation_changed(rel),
        dataclasses.replace(ready, relations=[rel]),
        "relation-changed",
    )

    data = answer(run.state, rel)
    found = losses(charm.root(), kept_before=[good])
    if said:
        assert data["status"] == "failed", data
        assert said in data["error"]
        assert creates(sim) == 1  # the seed's only
        outcome = f"answered failed: {data['error']}"
    else:
        # Keys the interface does not know are ignored: the request itself is valid.
        assert data["status"] == "completed", data
        outcome = f"unknown keys ignored; request {data['status']}"
    assert len(json.dumps(data)) < 64 * 1024  # the answer does not echo the garbage
    record(f"relation: {case}", outcome, lost_text(found))
    assert found == []


def test_replayed_request(controller: Start, charm: Charm, record: Record) -> None:
    sim = controller()
    _, ready = seeded(charm, sim)
    rel = relation(bag("r1", notes="before the upgrade"))
    first = charm.event(
        charm.ctx.on.relation_changed(rel), dataclasses.replace(ready, relations=[rel]), "r1"
    )
    done = answer(first.state, rel)
    assert done["status"] == "completed"
    later(sim)

    # The same request again, on later hooks: a restart, a leader change, a replay.
    out = first.state
    for hook in ("relation-changed", "update-status", "leader-elected", "config-changed"):
        current = out.get_relation(rel.id)
        assert isinstance(current, testing.Relation)
        event = {
            "relation-changed": charm.ctx.on.relation_changed(current),
            "update-status": charm.ctx.on.update_status(),
            "leader-elected": charm.ctx.on.leader_elected(),
            "config-changed": charm.ctx.on.config_changed(),
        }[hook]
        out = charm.event(event, out, f"replayed r1 ({hook})").state

    again = answer(out, rel)
    assert (again["request-id"], again["status"], again["backup-id"]) == (
        "r1",
        "completed",
        done["backup-id"],
    )
    assert creates(sim) == 2  # the seed and r1: never again
    found = losses(charm.root())
    record(
        "relation: a completed request replayed on four later hooks",
        f"answered from the earlier result ({done['backup-id']}); no second backup",
        lost_text(found),
    )
    assert found == []


def test_request_id_reused_after_another(controller: Start, charm: Charm, record: Record) -> None:
    sim = controller()
    _, ready = seeded(charm, sim)
    rel = relation(bag("r1"))
    out = charm.event(
        charm.ctx.on.relation_changed(rel), dataclasses.replace(ready, relations=[rel]), "r1"
    ).state
    r1 = answer(out, rel)
    later_state = out.get_relation(rel.id)
    assert isinstance(later_state, testing.Relation)
    later(sim)
    rel2 = dataclasses.replace(later_state, remote_app_data=bag("r2"))
    out = charm.event(
        charm.ctx.on.relation_changed(rel2), dataclasses.replace(out, relations=[rel2]), "r2"
    ).state
    again_rel = dataclasses.replace(out.get_relation(rel.id), remote_app_data=bag("r1"))
    assert isinstance(again_rel, testing.Relation)
    out = charm.event(
        charm.ctx.on.relation_changed(again_rel),
        dataclasses.replace(out, relations=[again_rel]),
        "r1 again",
    ).state

    data = answer(out, again_rel)
    assert (data["request-id"], data["status"], data["backup-id"]) == (
        "r1",
        "completed",
        r1["backup-id"],
    )
    assert creates(sim) == 3  # the seed, r1, r2
    found = losses(charm.root())
    record(
        "relation: an old request id written again after a newer one",
        "answered from r1's earlier result; no third backup",
        lost_text(found),
    )
    assert found == []
