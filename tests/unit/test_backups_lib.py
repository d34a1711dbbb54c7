"""The juju_backups relation library (charms.juju_backups.v0.backups), both sides.

With ops[testing]: the provider charm here serves requests with a fake backup (no service); the
requirer is the test charm of tests/charms/requirer.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import ops
import pytest
from charms.juju_backups.v0 import backups as lib
from charms.juju_backups.v0.backups import (
    BackupCompletedEvent,
    BackupFailedEvent,
    BackupRequest,
    BackupRequestData,
    BackupRequestedEvent,
    BackupResult,
    BackupsProvider,
    BackupsRequirer,
    InvalidRequestError,
    LastBackup,
    NoRelationError,
    NotLeaderError,
    ProviderAppData,
)
from ops import testing

from tests.charms.requirer.src.charm import BackupsRequirerCharm

# The interface, as docs/interface-juju_backups.md documents it: no other key may be written.
REQUIRER_KEYS = {"request-id", "notes", "reason", "requested-at"}
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
RESULT_KEYS = PROVIDER_KEYS - {"recent", "last-backup"}
SUMMARY_KEYS = {"id", "finished-at", "size"}

STARTED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
ARCHIVE_SIZE = 123_456

# -- test charms ---------------------------------------------------------------------------

PROVIDER_META: dict[str, Any] = {
    "name": "juju-backups",
    "provides": {"backups": {"interface": "juju_backups"}},
}
PROVIDER_ACTIONS: dict[str, Any] = {"finish": {}}


class ProviderCharm(ops.CharmBase):
    """Serves the queue the way juju-backups does, with a fake backup and a `mode` switch.

    serve: run each pending request at once (a completed backup "b-<request id>").
    fail: answer each pending request `failed`.
    hold: mark the first request running and leave it running (a long backup); the `finish`
          action completes it and starts the next. One at a time, like the charm's lock.
    ignore: leave requests pending.
    """

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.backups = BackupsProvider(self)
        framework.observe(self.backups.on.backup_requested, self._on_backup_requested)
        framework.observe(self.on.finish_action, self._on_finish_action)

    def _on_backup_requested(self, _: BackupRequestedEvent) -> None:
        self._serve()

    def _on_finish_action(self, _: ops.ActionEvent) -> None:
        for request in self.backups.pending_requests():
            if request.status == "running":
                self.backups.complete(
                    request, f"b-{request.request_id}", started_at=STARTED, size=ARCHIVE_SIZE
                )
        self._serve()

    def _serve(self) -> None:
        mode = str(self.config["mode"])
        queue = self.backups.pending_requests()
        if mode == "ignore":
            return
        if mode == "hold":
            if queue and not any(r.status == "running" for r in queue):
                self.backups.mark_running(queue[0])
            return
        for request in queue:
            if not self.backups.mark_running(request):
                continue
            if mode == "fail":
                self.backups.fail(request, "controller unreachable: connection refused")
            else:
                self.backups.complete(
                    request, f"b-{request.request_id}", started_at=STARTED, size=ARCHIVE_SIZE
                )


class SummaryProviderCharm(ops.CharmBase):
    """A provider that knows its last backup (the catalogue's newest entry, in the charm)."""

    summary = LastBackup(id="b-scheduled", finished_at=STARTED, size=42)

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.backups = BackupsProvider(self, last_backup=lambda: self.summary)


REQUIRER_META: dict[str, Any] = {
    "name": "backups-requirer",
    "requires": {"backups": {"interface": "juju_backups", "limit": 1}},
}
REQUIRER_ACTIONS: dict[str, Any] = {
    "request-backup": {
        "params": {
            "notes": {"type": "string", "default": ""},
            "reason": {"type": "string", "default": ""},
            "request-id": {"type": "string"},
        }
    },
    "get-result": {"params": {"request-id": {"type": "string"}}},
}


class DeferringRequirerCharm(ops.CharmBase):
    """Defers every answer, to prove the events survive a deferral (snapshot and restore)."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.backups = BackupsRequirer(self)
        framework.observe(self.backups.on.backup_completed, self._on_answer)
        framework.observe(self.backups.on.backup_failed, self._on_answer)

    def _on_answer(self, event: BackupCompletedEvent | BackupFailedEvent) -> None:
        event.defer()


class DeferringProviderCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.backups = BackupsProvider(self)
        framework.observe(self.backups.on.backup_requested, self._on_backup_requested)

    def _on_backup_requested(self, event: BackupRequestedEvent) -> None:
        event.defer()


# -- helpers --------------------------------------------------------------------------------


def provider_ctx(mode: str = "serve") -> testing.Context[ProviderCharm]:
    config = {"options": {"mode": {"type": "string", "default": mode}}}
    return testing.Context(
        ProviderCharm, meta=PROVIDER_META, config=config, actions=PROVIDER_ACTIONS
    )


def requirer_ctx() -> testing.Context[BackupsRequirerCharm]:
    return testing.Context(BackupsRequirerCharm, meta=REQUIRER_META, actions=REQUIRER_ACTIONS)


def encode(values: dict[str, Any]) -> dict[str, str]:
    """A databag the way Relation.save writes one: every value JSON."""
    return {key: json.dumps(value) for key, value in values.items()}


def decode(databag: dict[str, str]) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in databag.items()}


def request_bag(request_id: str = "r1", **extra: Any) -> dict[str, str]:
    values: dict[str, Any] = {"request-id": request_id, "requested-at": "2025-03-01T11:59:00Z"}
    values.update({k.replace("_", "-"): v for k, v in extra.items()})
    return encode(values)


def backups_relation(
    remote_app: str = "upgrader",
    remote: dict[str, str] | None = None,
    local: dict[str, str] | None = None,
) -> testing.Relation:
    return testing.Relation(
        "backups",
        interface="juju_backups",
        remote_app_name=remote_app,
        remote_app_data=remote or {},
        local_app_data=local or {},
    )


def answer(state: testing.State, relation: testing.Relation) -> dict[str, Any]:
    """The provider's answer in `relation`, checked to hold documented keys only."""
    databag = dict(state.get_relation(relation.id).local_app_data)
    assert set(databag) <= PROVIDER_KEYS, f"undocumented keys: {set(databag) - PROVIDER_KEYS}"
    values = decode(databag)
    for result in values.get("recent", []):
        assert set(result) <= RESULT_KEYS
    if "last-backup" in values:
        assert set(values["last-backup"]) <= SUMMARY_KEYS
    return values


def with_remote(
    state: testing.State, relation: testing.Relation, remote: dict[str, str]
) -> tuple[testing.State, testing.Relation]:
    """`state` after the requirer wrote `remote`: the provider's own data carried over."""
    current = state.get_relation(relation.id)
    assert isinstance(current, testing.Relation)
    changed = dataclasses.replace(current, remote_app_data=remote)
    others = [r for r in state.relations if r.id != relation.id]
    return dataclasses.replace(state, relations=[*others, changed]), changed


def requested(ctx: testing.Context[Any]) -> list[BackupRequestedEvent]:
    return [e for e in ctx.emitted_events if isinstance(e, BackupRequestedEvent)]


def answers(ctx: testing.Context[Any]) -> list[BackupCompletedEvent | BackupFailedEvent]:
    return [
        e for e in ctx.emitted_events if isinstance(e, BackupCompletedEvent | BackupFailedEvent)
    ]


def queue_of(ctx: testing.Context[ProviderCharm], state: testing.State) -> list[BackupRequest]:
    with ctx(ctx.on.update_status(), state) as mgr:
        queue = mgr.charm.backups.pending_requests()
        mgr.run()
    return queue


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- provider: a request and its answer ----------------------------------------------------


def test_valid_request_is_taken_in_and_announced():
    ctx = provider_ctx("ignore")
    rel = backups_relation(remote=request_bag("r1", notes="before upgrade", reason="upgrade"))

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    data = answer(out, rel)
    assert set(data) == {"request-id", "status", "received-at"}
    assert data["request-id"] == "r1"
    assert data["status"] == "pending"
    assert parse_time(data["received-at"]).tzinfo is not None
    [event] = requested(ctx)
    assert (event.relation_id, event.app_name, event.request_id) == (rel.id, "upgrader", "r1")
    assert (event.notes, event.reason) == ("before upgrade", "upgrade")
    [request] = queue_of(provider_ctx("ignore"), out)
    assert request.request_id == "r1"
    assert request.status == "pending"
    assert request.app_name == "upgrader"
    assert request.notes == "before upgrade"
    assert request.requested_at == datetime(2025, 3, 1, 11, 59, tzinfo=timezone.utc)
    assert request.received_at == parse_time(data["received-at"])


def test_completed_answer_carries_the_backup_and_the_last_backup_summary():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=request_bag("r1"))

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    data = answer(out, rel)
    # Exactly the documented keys of a completed answer: nothing secret, no paths.
    assert set(data) == PROVIDER_KEYS - {"error"}
    assert data["status"] == "completed"
    assert data["backup-id"] == "b-r1"
    assert data["size"] == ARCHIVE_SIZE
    assert parse_time(data["started-at"]) == STARTED
    assert parse_time(data["finished-at"]) >= parse_time(data["received-at"])
    assert data["recent"] == [{k: v for k, v in data.items() if k in RESULT_KEYS}]
    assert data["last-backup"] == {
        "id": "b-r1",
        "finished-at": data["finished-at"],
        "size": ARCHIVE_SIZE,
    }
    assert queue_of(ctx, out) == []


def test_failed_answer_carries_the_error():
    ctx = provider_ctx("fail")
    rel = backups_relation(remote=request_bag("r1"))

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    data = answer(out, rel)
    assert data["status"] == "failed"
    assert data["request-id"] == "r1"
    assert data["error"] == "controller unreachable: connection refused"
    assert "backup-id" not in data
    assert "last-backup" not in data
    assert data["recent"][0]["status"] == "failed"


def test_fail_message_is_cut_to_one_printable_line():
    ctx = provider_ctx("ignore")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    [request] = queue_of(ctx, state)

    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.backups.fail(request, "line one\nline\ttwo\x1b[31m" + "x" * 1000)
        out = mgr.run()

    error = answer(out, rel)["error"]
    assert error.startswith("line one line two [31mxxx")
    assert error.isprintable()
    assert len(error) == lib.MAX_ERROR_LENGTH
    assert error.endswith("...")


def test_complete_rejects_naive_times():
    ctx = provider_ctx("ignore")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    [request] = queue_of(ctx, state)

    with ctx(ctx.on.update_status(), state) as mgr:
        with pytest.raises(ValueError, match="time zone"):
            mgr.charm.backups.complete(request, "b1", started_at=datetime(2025, 1, 1))
        mgr.run()


# -- provider: repeated request ids ---------------------------------------------------------


def test_current_request_id_is_not_taken_in_again():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    first = answer(state, rel)
    ctx.emitted_events.clear()

    # A relation-changed for something else (a unit's data) with the same request id.
    out = ctx.run(ctx.on.relation_changed(state.get_relation(rel.id)), state)

    assert requested(ctx) == []
    assert answer(out, rel) == first


def test_repeated_request_id_is_answered_from_history_without_a_backup():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    state, rel = with_remote(state, rel, request_bag("r2"))
    state = ctx.run(ctx.on.relation_changed(rel), state)
    assert answer(state, rel)["backup-id"] == "b-r2"
    r1_result = answer(state, rel)["recent"][1]
    assert r1_result["request-id"] == "r1"
    ctx.emitted_events.clear()

    state, rel = with_remote(state, rel, request_bag("r1"))
    out = ctx.run(ctx.on.relation_changed(rel), state)

    assert requested(ctx) == []
    data = answer(out, rel)
    assert {k: v for k, v in data.items() if k in RESULT_KEYS} == r1_result
    assert [r["request-id"] for r in data["recent"]] == ["r2", "r1"]


def test_history_is_bounded():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=request_bag("r0"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    for n in range(1, lib.HISTORY_LENGTH + 3):
        state, rel = with_remote(state, rel, request_bag(f"r{n}"))
        state = ctx.run(ctx.on.relation_changed(rel), state)

    recent = answer(state, rel)["recent"]
    assert len(recent) == lib.HISTORY_LENGTH
    assert recent[0]["request-id"] == f"r{lib.HISTORY_LENGTH + 2}"


def test_full_history_of_long_errors_stays_readable():
    ctx = provider_ctx("ignore")
    rel = backups_relation(remote=request_bag("r0"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    for n in range(lib.HISTORY_LENGTH + 1):
        [request] = queue_of(ctx, state)
        with ctx(ctx.on.update_status(), state) as mgr:
            assert mgr.charm.backups.fail(request, f"attempt {n}: " + "e" * 600)
            state = mgr.run()
        state, rel = with_remote(state, rel, request_bag(f"r{n + 1}"))
        state = ctx.run(ctx.on.relation_changed(rel), state)

    raw_recent = state.get_relation(rel.id).local_app_data["recent"]
    assert len(raw_recent) > lib.MAX_REQUEST_VALUE_LENGTH
    data = answer(state, rel)
    assert len(data["recent"]) == lib.HISTORY_LENGTH
    assert data["recent"][0]["error"].startswith(f"attempt {lib.HISTORY_LENGTH}: ")
    # Still the provider's own readable data: the next failure keeps the history.
    [request] = queue_of(ctx, state)
    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.backups.fail(request, "once more")
        state = mgr.run()
    assert [r["request-id"] for r in answer(state, rel)["recent"]][:2] == [
        f"r{lib.HISTORY_LENGTH + 1}",
        f"r{lib.HISTORY_LENGTH}",
    ]


# -- provider: malformed requests -----------------------------------------------------------

TOO_DEEP = "[" * 3000 + "]" * 3000
assert len(TOO_DEEP) > 4096  # refused for its size; a shallower one for its nesting below
NESTED = "[" * 2000 + "]" * 2000


@pytest.mark.parametrize(
    ("databag", "bad_key", "id_echoed"),
    [
        pytest.param(encode({"request-id": "bad id!"}), "request-id", False, id="id-chars"),
        pytest.param(
            encode({"request-id": "-starts-with-dash"}), "request-id", False, id="id-start"
        ),
        pytest.param(encode({"request-id": "a" * 65}), "request-id", False, id="id-too-long"),
        pytest.param(encode({"request-id": ""}), "request-id", False, id="id-empty"),
        pytest.param(encode({"request-id": 42}), "request-id", False, id="id-number"),
        pytest.param({"request-id": "r1"}, "request-id", False, id="id-not-json"),
        pytest.param(encode({"notes": "no id"}), "request-id", False, id="id-missing"),
        pytest.param(request_bag(notes="x" * 201), "notes", True, id="notes-too-long"),
        pytest.param(request_bag(reason="y" * 201), "reason", True, id="reason-too-long"),
        pytest.param(request_bag(notes="two\nlines"), "notes", True, id="notes-newline"),
        pytest.param(request_bag(notes="bell\x07"), "notes", True, id="notes-control"),
        pytest.param(request_bag(reason="esc\x1b[2J"), "reason", True, id="reason-escape"),
        pytest.param(request_bag(notes=["a", "list"]), "notes", True, id="notes-list"),
        pytest.param(request_bag(notes=True), "notes", True, id="notes-bool"),
        pytest.param(request_bag(reason={"a": 1}), "reason", True, id="reason-object"),
        pytest.param(request_bag(requested_at=1700000000), "requested-at", True, id="time-number"),
        pytest.param(request_bag(requested_at="yesterday"), "requested-at", True, id="time-text"),
        pytest.param(
            request_bag(requested_at="2025-03-01T12:00:00"), "requested-at", True, id="time-naive"
        ),
        pytest.param(
            request_bag(requested_at="2025-02-30T12:00:00Z"), "requested-at", True, id="time-date"
        ),
        pytest.param(
            request_bag(requested_at="0001-01-01T00:00:00+01:00"),
            "requested-at",
            True,
            id="time-overflow",
        ),
        pytest.param({**request_bag(), "notes": "{not json"}, "notes", True, id="notes-garbage"),
        pytest.param(
            {**request_bag(), "notes": json.dumps("z" * 5000)}, "notes", True, id="notes-huge"
        ),
        pytest.param({**request_bag(), "reason": TOO_DEEP}, "reason", True, id="reason-oversized"),
        pytest.param({**request_bag(), "reason": NESTED}, "reason", True, id="reason-nested"),
    ],
)
def test_malformed_request_is_answered_failed_naming_the_key(
    databag: dict[str, str], bad_key: str, id_echoed: bool
):
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=databag)

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    data = answer(out, rel)
    assert data["status"] == "failed"
    assert re.search(rf"\b{re.escape(bad_key)}: ", data["error"]), data["error"]
    assert data["error"].startswith("invalid request: ")
    assert len(data["error"]) <= lib.MAX_ERROR_LENGTH
    if id_echoed:
        assert data["request-id"] == "r1"
        assert data["recent"] == [{k: v for k, v in data.items() if k in RESULT_KEYS}]
    else:
        assert "request-id" not in data
        assert "recent" not in data
    # The bad value is never echoed back.
    for value in databag.values():
        if len(value) > 8:
            assert value.strip('"') not in data["error"]
    assert requested(ctx) == []
    assert "backup-id" not in data


def _garbage(rng: random.Random) -> str:
    pick = rng.randrange(9)
    if pick == 0:
        return json.dumps("".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(80))))
    if pick == 1:
        return json.dumps(rng.choice([None, True, 3.5, -1, 10**30, [], {}, [1, "a"], {"a": None}]))
    if pick == 2:
        return "".join(rng.choice('[]{}",:0123456789aZ\\ \n') for _ in range(rng.randrange(60)))
    if pick == 3:
        return json.dumps(
            rng.choice(["r1", "x" * 64, "2025-03-01T12:00:00Z", "0001-01-01T00:00:00+01:00"])
        )
    if pick == 4:
        return "[" * rng.randrange(900, 2100) + "]" * rng.randrange(900, 2100)
    if pick == 5:
        return json.dumps(rng.choice(["running", "completed", "failed"]))
    if pick == 6:
        return json.dumps([{"request-id": "r1", "status": rng.choice(["failed", 7, None])}])
    if pick == 7:
        return json.dumps({"id": rng.choice(["b1", "", 5]), "size": rng.choice([1, -1, "1"])})
    return ""


def test_no_databag_crashes_the_provider():
    rng = random.Random(20250301)
    ctx = provider_ctx("serve")
    for _ in range(150):
        remote = {k: _garbage(rng) for k in rng.sample(sorted(REQUIRER_KEYS | {"x"}), 3)}
        local = {k: _garbage(rng) for k in rng.sample(sorted(PROVIDER_KEYS), 4)}
        rel = backups_relation(
            remote={k: v for k, v in remote.items() if v},
            local={k: v for k, v in local.items() if v},
        )
        state = testing.State(leader=True, relations=[rel])

        out = ctx.run(ctx.on.relation_changed(rel), state)
        out = ctx.run(ctx.on.leader_elected(), out)

        if out.get_relation(rel.id).local_app_data != rel.local_app_data:
            answer(out, rel)  # whatever was written is documented keys only


def test_no_databag_crashes_the_requirer():
    rng = random.Random(20250302)
    ctx = requirer_ctx()
    for _ in range(150):
        remote = {k: _garbage(rng) for k in rng.sample(sorted(PROVIDER_KEYS), 5)}
        local = {k: _garbage(rng) for k in rng.sample(sorted(REQUIRER_KEYS), 2)}
        rel = backups_relation(
            "juju-backups",
            remote={k: v for k, v in remote.items() if v},
            local={k: v for k, v in local.items() if v},
        )

        out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

        assert out.get_relation(rel.id).local_app_data == rel.local_app_data


def test_malformed_request_is_refused_once():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=encode({"request-id": "bad id"}))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    out = ctx.run(ctx.on.relation_changed(state.get_relation(rel.id)), state)

    # Same refusal, same time: rewriting it would wake the requirer for nothing.
    assert answer(out, rel) == answer(state, rel)


def test_refused_request_id_is_not_run_when_fixed_under_the_same_id():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=request_bag("r1", notes="x" * 500))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    state, rel = with_remote(state, rel, request_bag("r1", notes="fine"))

    out = ctx.run(ctx.on.relation_changed(rel), state)

    assert answer(out, rel)["status"] == "failed"
    assert requested(ctx) == []


def test_unknown_keys_are_ignored_and_never_answered():
    ctx = provider_ctx("serve")
    remote = {
        **request_bag("r1"),
        "restore": json.dumps("b-old"),
        "remove": json.dumps(["b-old"]),
        "credentials": json.dumps({"password": "hunter2"}),
        "ca-private-key": "not even json",
    }
    rel = backups_relation(remote=remote)

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    data = answer(out, rel)
    assert data["status"] == "completed"
    assert "hunter2" not in json.dumps(data)
    assert "b-old" not in json.dumps(data)


def test_empty_requirer_data_is_not_a_request():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote={"something-else": '"x"'})

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    assert out.get_relation(rel.id).local_app_data == {}
    assert requested(ctx) == []


def test_unreadable_own_data_is_replaced_not_fatal():
    ctx = provider_ctx("serve")
    rel = backups_relation(
        remote=request_bag("r1"), local={"status": '"exploded"', "recent": "[1, 2"}
    )

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    assert answer(out, rel)["status"] == "completed"


# -- provider: one at a time, in order ------------------------------------------------------


def test_requests_wait_while_one_runs_and_are_served_in_arrival_order():
    ctx = provider_ctx("hold")
    first = backups_relation("alpha", remote=request_bag("a1"))
    second = backups_relation("beta", remote={})
    third = backups_relation("gamma", remote={})
    state = testing.State(leader=True, relations=[first, second, third])

    state = ctx.run(ctx.on.relation_changed(first), state)
    assert answer(state, first)["status"] == "running"
    # gamma asks before beta: arrival, not relation id, orders the queue.
    state, third = with_remote(state, third, request_bag("c1"))
    state = ctx.run(ctx.on.relation_changed(third), state)
    state, second = with_remote(state, second, request_bag("b1"))
    state = ctx.run(ctx.on.relation_changed(second), state)

    assert answer(state, third)["status"] == "pending"
    assert answer(state, second)["status"] == "pending"
    assert [e.request_id for e in requested(ctx)] == ["a1", "c1", "b1"]
    assert [(r.request_id, r.status) for r in queue_of(ctx, state)] == [
        ("a1", "running"),
        ("c1", "pending"),
        ("b1", "pending"),
    ]

    state = ctx.run(ctx.on.action("finish"), state)
    assert answer(state, first)["status"] == "completed"
    assert answer(state, third)["status"] == "running"
    assert answer(state, second)["status"] == "pending"

    state = ctx.run(ctx.on.action("finish"), state)
    assert answer(state, third)["status"] == "completed"
    assert answer(state, second)["status"] == "running"

    state = ctx.run(ctx.on.action("finish"), state)
    assert [answer(state, r)["backup-id"] for r in (first, second, third)] == [
        "b-a1",
        "b-b1",
        "b-c1",
    ]
    # Every relation sees the newest backup as the last one.
    assert {answer(state, r)["last-backup"]["id"] for r in (first, second, third)} == {"b-b1"}
    assert queue_of(ctx, state) == []


def test_new_request_on_a_relation_whose_request_runs_waits_for_it():
    ctx = provider_ctx("hold")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    assert answer(state, rel)["status"] == "running"

    state, rel = with_remote(state, rel, request_bag("r2"))
    state = ctx.run(ctx.on.relation_changed(rel), state)

    data = answer(state, rel)
    assert (data["request-id"], data["status"]) == ("r1", "running")
    queue = queue_of(ctx, state)
    assert [(r.request_id, r.status) for r in queue] == [("r1", "running"), ("r2", "pending")]
    assert queue[1].received_at is None
    assert [e.request_id for e in requested(ctx)] == ["r1", "r2"]

    # r1's backup ends: its result is kept, and r2 is taken in and started.
    state = ctx.run(ctx.on.action("finish"), state)

    data = answer(state, rel)
    assert (data["request-id"], data["status"]) == ("r2", "running")
    assert [(r["request-id"], r["status"]) for r in data["recent"]] == [("r1", "completed")]
    with ctx(ctx.on.update_status(), state) as mgr:
        assert not mgr.charm.backups.mark_running(queue[0])  # r1: answered, not run again
        mgr.run()


def test_completing_a_request_the_requirer_replaced_keeps_its_result_and_queues_the_new():
    ctx = provider_ctx("hold")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    [running] = queue_of(ctx, state)
    state, rel = with_remote(state, rel, request_bag("r2"))
    state = ctx.run(ctx.on.relation_changed(rel), state)

    # The backup of r1 finishes (in the charm, the process that ran it answers).
    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.backups.complete(running, "b-r1", size=1)
        out = mgr.run()

    data = answer(out, rel)
    assert (data["request-id"], data["status"]) == ("r2", "pending")
    assert data["recent"][0]["request-id"] == "r1"
    assert data["recent"][0]["backup-id"] == "b-r1"
    assert data["last-backup"]["id"] == "b-r1"


def test_a_new_request_replaces_a_pending_one():
    ctx = provider_ctx("ignore")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    state, rel = with_remote(state, rel, request_bag("r2"))

    out = ctx.run(ctx.on.relation_changed(rel), state)

    data = answer(out, rel)
    assert (data["request-id"], data["status"]) == ("r2", "pending")
    assert [r.request_id for r in queue_of(ctx, out)] == ["r2"]


def test_mark_running_refuses_stale_requests():
    ctx = provider_ctx("ignore")
    rel = backups_relation(remote=request_bag("r1"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    [request] = queue_of(ctx, state)

    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.backups.complete(request, "b-r1")
        assert not mgr.charm.backups.mark_running(request)  # answered already
        out = mgr.run()
    assert answer(out, rel)["status"] == "completed"

    out, rel = with_remote(out, rel, {})
    with ctx(ctx.on.update_status(), out) as mgr:
        assert not mgr.charm.backups.mark_running(request)  # withdrawn
        mgr.run()


# -- provider: relation removed midway ------------------------------------------------------


def test_relation_broken_with_a_pending_request_writes_nothing():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=request_bag("r1"))
    other = backups_relation("reporter", remote={})
    state = testing.State(leader=True, relations=[rel, other])

    out = ctx.run(ctx.on.relation_broken(rel), state)

    assert out.get_relation(rel.id).local_app_data == {}
    assert out.get_relation(other.id).local_app_data == {}
    assert requested(ctx) == []


def test_answering_over_a_relation_removed_midway_writes_nothing_there():
    ctx = provider_ctx("hold")
    rel = backups_relation(remote=request_bag("r1"))
    other = backups_relation("reporter", remote={})
    state = ctx.run(
        ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel, other])
    )
    [request] = queue_of(ctx, state)
    before = dict(state.get_relation(rel.id).local_app_data)

    # The backup finishes in the hook that tells the charm the relation is gone.
    with ctx(ctx.on.relation_broken(state.get_relation(rel.id)), state) as mgr:
        assert mgr.charm.backups.pending_requests() == []
        assert not mgr.charm.backups.mark_running(request)
        assert not mgr.charm.backups.complete(request, "b-r1", size=7)
        assert not mgr.charm.backups.fail(request, "gone")
        out = mgr.run()

    assert dict(out.get_relation(rel.id).local_app_data) == before
    # The backup exists all the same: the relations still there see it.
    assert answer(out, other)["last-backup"] == {
        "id": "b-r1",
        "finished-at": answer(out, other)["last-backup"]["finished-at"],
        "size": 7,
    }

    # And in a later hook the relation is simply not there.
    later = dataclasses.replace(out, relations=[out.get_relation(other.id)])
    with ctx(ctx.on.update_status(), later) as mgr:
        assert not mgr.charm.backups.complete(request, "b-r1")
        mgr.run()


# -- provider: leadership ---------------------------------------------------------------------


def test_non_leader_does_nothing():
    ctx = provider_ctx("serve")
    rel = backups_relation(remote=request_bag("r1"))
    state = testing.State(leader=False, relations=[rel])

    out = ctx.run(ctx.on.relation_changed(rel), state)

    assert out.get_relation(rel.id).local_app_data == {}
    assert requested(ctx) == []
    with ctx(ctx.on.update_status(), state) as mgr:
        backups = mgr.charm.backups
        assert backups.pending_requests() == []
        request = BackupRequest(rel.id, "upgrader", "r1", "", "", None, None, "pending")
        assert not backups.mark_running(request)
        assert not backups.complete(request, "b1")
        assert not backups.fail(request, "no")
        backups.publish_last_backup(LastBackup(id="b1"))
        out = mgr.run()
    assert out.get_relation(rel.id).local_app_data == {}


def test_new_leader_picks_up_what_the_old_one_left():
    ctx = provider_ctx("ignore")
    # The old leader took r1 in and started r2 (then died); r3 arrived while there was none.
    pending = backups_relation(
        "alpha",
        remote=request_bag("r1"),
        local=encode(
            {"request-id": "r1", "status": "pending", "received-at": "2025-03-01T10:00:00Z"}
        ),
    )
    running = backups_relation(
        "beta",
        remote=request_bag("r2"),
        local=encode(
            {
                "request-id": "r2",
                "status": "running",
                "received-at": "2025-03-01T09:00:00Z",
                "started-at": "2025-03-01T09:00:01Z",
            }
        ),
    )
    unseen = backups_relation("gamma", remote=request_bag("r3"))
    done = backups_relation(
        "delta",
        remote=request_bag("r4"),
        local=encode({"request-id": "r4", "status": "completed", "backup-id": "b-r4"}),
    )
    state = testing.State(leader=True, relations=[pending, running, unseen, done])

    out = ctx.run(ctx.on.leader_elected(), state)

    assert [e.request_id for e in requested(ctx)] == ["r2", "r1", "r3"]
    assert answer(out, unseen)["status"] == "pending"
    assert answer(out, done)["status"] == "completed"
    queue = queue_of(ctx, out)
    assert [(r.request_id, r.status) for r in queue] == [
        ("r2", "running"),
        ("r1", "pending"),
        ("r3", "pending"),
    ]


def test_new_leader_serves_the_queue():
    ctx = provider_ctx("serve")
    rel = backups_relation(
        remote=request_bag("r1"),
        local=encode(
            {"request-id": "r1", "status": "pending", "received-at": "2025-03-01T10:00:00Z"}
        ),
    )

    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations=[rel]))

    data = answer(out, rel)
    assert (data["status"], data["backup-id"]) == ("completed", "b-r1")
    # The time the old leader took it in is kept.
    assert data["received-at"] == "2025-03-01T10:00:00Z"


# -- provider: the last backup --------------------------------------------------------------


def test_publish_last_backup_reaches_every_relation():
    ctx = provider_ctx("ignore")
    rels = [backups_relation("alpha"), backups_relation("beta")]
    summary = LastBackup(id="b-nightly", finished_at=STARTED + timedelta(hours=1), size=99)

    with ctx(ctx.on.update_status(), testing.State(leader=True, relations=rels)) as mgr:
        mgr.charm.backups.publish_last_backup(summary)
        out = mgr.run()

    for rel in rels:
        assert answer(out, rel) == {
            "last-backup": {"id": "b-nightly", "finished-at": "2025-03-01T13:00:00Z", "size": 99}
        }

    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.backups.publish_last_backup(None)
        cleared = mgr.run()
    assert all(cleared.get_relation(r.id).local_app_data == {} for r in rels)


def test_joining_relation_gets_the_last_backup_from_a_sibling():
    ctx = provider_ctx("ignore")
    old = backups_relation(
        "alpha",
        local=encode({"last-backup": {"id": "b-9", "finished-at": "2025-03-01T00:00:00Z"}}),
    )
    new = backups_relation("beta")

    out = ctx.run(
        ctx.on.relation_joined(new, remote_unit=0),
        testing.State(leader=True, relations=[old, new]),
    )

    assert answer(out, new) == {
        "last-backup": {"id": "b-9", "finished-at": "2025-03-01T00:00:00Z"}
    }


def test_joining_relation_gets_the_last_backup_from_the_charm():
    ctx = testing.Context(SummaryProviderCharm, meta=PROVIDER_META)
    rel = backups_relation()

    out = ctx.run(
        ctx.on.relation_joined(rel, remote_unit=0), testing.State(leader=True, relations=[rel])
    )

    assert answer(out, rel) == {
        "last-backup": {"id": "b-scheduled", "finished-at": "2025-03-01T12:00:00Z", "size": 42}
    }


def test_deferred_backup_requested_event_keeps_its_fields():
    ctx = testing.Context(DeferringProviderCharm, meta=PROVIDER_META, capture_deferred_events=True)
    rel = backups_relation(remote=request_bag("r1", notes="n", reason="why"))
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    assert len(state.deferred) == 1
    ctx.emitted_events.clear()

    ctx.run(ctx.on.update_status(), state)

    [event] = requested(ctx)
    assert (event.relation_id, event.app_name, event.request_id, event.notes, event.reason) == (
        rel.id,
        "upgrader",
        "r1",
        "n",
        "why",
    )


# -- requirer ---------------------------------------------------------------------------------


def test_request_backup_writes_exactly_the_request():
    ctx = requirer_ctx()
    rel = backups_relation("juju-backups")

    out = ctx.run(
        ctx.on.action("request-backup", params={"notes": "pre-upgrade", "reason": "upgrade"}),
        testing.State(leader=True, relations=[rel]),
    )

    request_id = ctx.action_results["request-id"]  # type: ignore[index]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", request_id)
    databag = dict(out.get_relation(rel.id).local_app_data)
    assert set(databag) == REQUIRER_KEYS
    values = decode(databag)
    assert values["request-id"] == request_id
    assert (values["notes"], values["reason"]) == ("pre-upgrade", "upgrade")
    assert abs(parse_time(values["requested-at"]) - datetime.now(timezone.utc)) < timedelta(days=1)


def test_request_backup_with_own_id_and_no_notes():
    ctx = requirer_ctx()
    rel = backups_relation("juju-backups")

    out = ctx.run(
        ctx.on.action("request-backup", params={"request-id": "pre-upgrade-3.6.28"}),
        testing.State(leader=True, relations=[rel]),
    )

    values = decode(dict(out.get_relation(rel.id).local_app_data))
    assert set(values) == {"request-id", "requested-at"}
    assert values["request-id"] == "pre-upgrade-3.6.28"


def test_request_backup_asks_over_every_relation():
    ctx = testing.Context(
        BackupsRequirerCharm,
        meta={"name": "r", "requires": {"backups": {"interface": "juju_backups"}}},
        actions=REQUIRER_ACTIONS,
    )
    rels = [backups_relation("controller-a"), backups_relation("controller-b")]

    out = ctx.run(ctx.on.action("request-backup"), testing.State(leader=True, relations=rels))

    ids = {decode(dict(out.get_relation(r.id).local_app_data))["request-id"] for r in rels}
    assert ids == {ctx.action_results["request-id"]}  # type: ignore[index]


@pytest.mark.parametrize(
    ("leader", "relations", "params", "error"),
    [
        pytest.param(False, 1, {}, "only the leader", id="not-leader"),
        pytest.param(True, 0, {}, "relate this application", id="no-relation"),
        pytest.param(True, 1, {"notes": "n" * 201}, "notes: ", id="notes-too-long"),
        pytest.param(True, 1, {"reason": "tab\there"}, "reason: ", id="reason-control"),
        pytest.param(True, 1, {"request-id": "no spaces"}, "request-id: ", id="bad-id"),
    ],
)
def test_request_backup_refusals(leader: bool, relations: int, params: dict[str, str], error: str):
    ctx = requirer_ctx()
    rels = [backups_relation("juju-backups") for _ in range(relations)]
    state = testing.State(leader=leader, relations=rels)

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("request-backup", params=params), state)

    assert error in failure.value.message


def test_request_backup_raises_the_documented_errors():
    ctx = testing.Context(DeferringRequirerCharm, meta=REQUIRER_META)
    rel = backups_relation("juju-backups")
    with ctx(ctx.on.update_status(), testing.State(leader=False, relations=[rel])) as mgr:
        with pytest.raises(NotLeaderError):
            mgr.charm.backups.request_backup()
        with pytest.raises(NotLeaderError):
            mgr.charm.backups.result()
        mgr.run()
    with ctx(ctx.on.update_status(), testing.State(leader=True)) as mgr:
        with pytest.raises(NoRelationError):
            mgr.charm.backups.request_backup()
        mgr.run()
    with ctx(ctx.on.update_status(), testing.State(leader=True, relations=[rel])) as mgr:
        with pytest.raises(InvalidRequestError, match="notes"):
            mgr.charm.backups.request_backup(notes="\x00")
        with pytest.raises(ValueError, match="notes"):  # InvalidRequestError is a ValueError
            mgr.charm.backups.request_backup(notes="x" * 300)
        mgr.run()


def provider_answer(request_id: str, **fields: Any) -> dict[str, str]:
    values: dict[str, Any] = {"request-id": request_id, "received-at": "2025-03-01T12:00:00Z"}
    values.update({k.replace("_", "-"): v for k, v in fields.items()})
    return encode(values)


def test_completed_answer_to_the_current_request_is_announced_once():
    ctx = requirer_ctx()
    rel = backups_relation(
        "juju-backups",
        local=encode({"request-id": "r1"}),
        remote=provider_answer(
            "r1",
            status="completed",
            backup_id="b-1",
            size=10,
            started_at="2025-03-01T12:00:01Z",
            finished_at="2025-03-01T12:05:00Z",
            last_backup={"id": "b-1", "finished-at": "2025-03-01T12:05:00Z", "size": 10},
        ),
    )
    state = testing.State(leader=True, relations=[rel])

    out = ctx.run(ctx.on.relation_changed(rel), state)

    [event] = answers(ctx)
    assert isinstance(event, BackupCompletedEvent)
    assert (event.request_id, event.backup_id, event.size) == ("r1", "b-1", 10)
    assert event.started_at == datetime(2025, 3, 1, 12, 0, 1, tzinfo=timezone.utc)
    assert event.finished_at == datetime(2025, 3, 1, 12, 5, tzinfo=timezone.utc)
    assert (event.relation_id, event.app_name) == (rel.id, "juju-backups")
    assert out.unit_status == testing.ActiveStatus("last backup b-1")
    # Nothing is written back: the requirer's data stays its request.
    assert out.get_relation(rel.id).local_app_data == {"request-id": '"r1"'}

    ctx.emitted_events.clear()
    # Another relation-changed, e.g. the provider published another summary.
    ctx.run(ctx.on.relation_changed(out.get_relation(rel.id)), out)
    assert answers(ctx) == []


def test_failed_answer_is_announced_with_the_error():
    ctx = requirer_ctx()
    rel = backups_relation(
        "juju-backups",
        local=encode({"request-id": "r1"}),
        remote=provider_answer("r1", status="failed", error="controller unreachable"),
    )

    out = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    [event] = answers(ctx)
    assert isinstance(event, BackupFailedEvent)
    assert (event.request_id, event.error) == ("r1", "controller unreachable")
    assert out.unit_status == testing.ActiveStatus("backup request failed: controller unreachable")


def test_answer_kept_in_history_is_announced():
    ctx = requirer_ctx()
    recent = [{"request-id": "r1", "status": "completed", "backup-id": "b-1"}]
    rel = backups_relation(
        "juju-backups",
        local=encode({"request-id": "r1"}),
        remote=provider_answer("r2", status="running", recent=recent),
    )

    ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    [event] = answers(ctx)
    assert isinstance(event, BackupCompletedEvent)
    assert event.backup_id == "b-1"


@pytest.mark.parametrize(
    ("local", "remote"),
    [
        pytest.param({"request-id": "r2"}, {"status": "completed"}, id="other-request"),
        pytest.param({"request-id": "r1"}, {"status": "pending"}, id="pending"),
        pytest.param({"request-id": "r1"}, {"status": "running"}, id="running"),
        pytest.param({}, {"status": "completed"}, id="no-request"),
    ],
)
def test_no_event_until_the_current_request_is_answered(
    local: dict[str, Any], remote: dict[str, Any]
):
    ctx = requirer_ctx()
    rel = backups_relation(
        "juju-backups", local=encode(local), remote=provider_answer("r1", **remote)
    )

    ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))

    assert answers(ctx) == []


def test_non_leader_requirer_announces_nothing_but_sees_the_last_backup():
    ctx = requirer_ctx()
    rel = backups_relation(
        "juju-backups",
        remote=provider_answer(
            "r1", status="completed", backup_id="b-1", last_backup={"id": "b-1", "size": 3}
        ),
    )

    with ctx(ctx.on.relation_changed(rel), testing.State(leader=False, relations=[rel])) as mgr:
        assert mgr.charm.backups.last_backup == LastBackup(id="b-1", size=3)
        assert mgr.charm.backups.result("r1") is not None
        out = mgr.run()

    assert answers(ctx) == []
    assert out.unit_status == testing.ActiveStatus("last backup b-1")


def test_new_requirer_leader_announces_an_answer_that_arrived_without_one():
    ctx = requirer_ctx()
    rel = backups_relation(
        "juju-backups",
        local=encode({"request-id": "r1"}),
        remote=provider_answer("r1", status="completed", backup_id="b-1"),
    )

    ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations=[rel]))

    [event] = answers(ctx)
    assert event.request_id == "r1"


def test_unreadable_provider_data_is_ignored():
    ctx = requirer_ctx()
    rel = backups_relation(
        "juju-backups",
        local=encode({"request-id": "r1"}),
        remote={"request-id": '"r1"', "status": '"exploded"', "last-backup": "{"},
    )

    with ctx(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel])) as mgr:
        assert mgr.charm.backups.last_backup is None
        assert mgr.charm.backups.result() is None
        out = mgr.run()

    assert answers(ctx) == []
    assert out.unit_status == testing.WaitingStatus("waiting for backup r1")


def test_newest_last_backup_of_several_providers():
    ctx = testing.Context(
        DeferringRequirerCharm,
        meta={"name": "r", "requires": {"backups": {"interface": "juju_backups"}}},
    )
    older = backups_relation(
        "a", remote=encode({"last-backup": {"id": "b-old", "finished-at": "2025-01-01T00:00:00Z"}})
    )
    newer = backups_relation(
        "b", remote=encode({"last-backup": {"id": "b-new", "finished-at": "2025-02-01T00:00:00Z"}})
    )
    with ctx(ctx.on.update_status(), testing.State(relations=[older, newer])) as mgr:
        last = mgr.charm.backups.last_backup
        mgr.run()
    assert last is not None
    assert last.id == "b-new"


def test_deferred_answer_event_keeps_its_fields():
    ctx = testing.Context(DeferringRequirerCharm, meta=REQUIRER_META, capture_deferred_events=True)
    rel = backups_relation(
        "juju-backups",
        local=encode({"request-id": "r1"}),
        remote=provider_answer("r1", status="completed", backup_id="b-1", size=5),
    )
    state = ctx.run(ctx.on.relation_changed(rel), testing.State(leader=True, relations=[rel]))
    assert len(state.deferred) == 1
    ctx.emitted_events.clear()

    ctx.run(ctx.on.update_status(), state)

    [event] = answers(ctx)
    assert isinstance(event, BackupCompletedEvent)
    assert (event.request_id, event.backup_id, event.size) == ("r1", "b-1", 5)
    assert event.result.received_at == datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


def test_get_result_action():
    ctx = requirer_ctx()
    rel = backups_relation(
        "juju-backups",
        local=encode({"request-id": "r1"}),
        remote=provider_answer("r1", status="completed", backup_id="b-1", size=5),
    )

    ctx.run(ctx.on.action("get-result"), testing.State(leader=True, relations=[rel]))

    assert ctx.action_results == {
        "request-id": "r1",
        "status": "completed",
        "backup-id": "b-1",
        "size": "5",
        "received-at": "2025-03-01T12:00:00Z",
    }


OPS_VERSION = tuple(int(part) for part in ops.__version__.split(".")[:2])


@pytest.mark.skipif(OPS_VERSION < (3, 6), reason="Relation.save erases omitted keys from ops 3.6")
def test_models_work_with_ops_relation_load_and_save():
    ctx = requirer_ctx()
    answered = provider_answer(
        "r1", status="completed", backup_id="b-1", last_backup={"id": "b-1", "size": 1}
    )
    rel = backups_relation("juju-backups", remote=answered)

    with ctx(ctx.on.update_status(), testing.State(leader=True, relations=[rel])) as mgr:
        relation = mgr.charm.model.get_relation("backups")
        assert relation is not None
        loaded = relation.load(ProviderAppData, relation.app)
        relation.save(BackupRequestData(request_id="r2", notes="n"), mgr.charm.app)
        out = mgr.run()

    assert loaded.current() == BackupResult(
        request_id="r1",
        status="completed",
        received_at=datetime(2025, 3, 1, 12, tzinfo=timezone.utc),
        backup_id="b-1",
    )
    assert loaded.last_backup == LastBackup(id="b-1", size=1)
    # Relation.save of ops 3.6+ writes what the library writes: no nulls, no other keys.
    assert decode(dict(out.get_relation(rel.id).local_app_data)) == {
        "request-id": "r2",
        "notes": "n",
    }


# -- both sides: a round trip ---------------------------------------------------------------


def test_round_trip_between_the_test_requirer_and_a_provider():
    requirer, provider = requirer_ctx(), provider_ctx("serve")
    req_rel = backups_relation("juju-backups")
    req_state = testing.State(leader=True, relations=[req_rel])

    # 1. The requirer asks.
    req_state = requirer.run(
        requirer.on.action("request-backup", params={"notes": "n", "reason": "upgrade"}),
        req_state,
    )
    request_id = requirer.action_results["request-id"]  # type: ignore[index]
    assert req_state.unit_status == testing.WaitingStatus(f"waiting for backup {request_id}")
    asked = dict(req_state.get_relation(req_rel.id).local_app_data)

    # 2. The provider's leader sees it, runs it and answers.
    prov_rel = backups_relation("backups-requirer", remote=asked)
    prov_state = provider.run(
        provider.on.relation_changed(prov_rel), testing.State(leader=True, relations=[prov_rel])
    )
    [event] = requested(provider)
    assert (event.request_id, event.app_name, event.reason) == (
        request_id,
        "backups-requirer",
        "upgrade",
    )
    answered = dict(prov_state.get_relation(prov_rel.id).local_app_data)

    # 3. The requirer learns the result.
    req_state, req_rel = with_remote(req_state, req_rel, answered)
    req_state = requirer.run(requirer.on.relation_changed(req_rel), req_state)
    [done] = answers(requirer)
    assert isinstance(done, BackupCompletedEvent)
    assert (done.request_id, done.backup_id, done.size) == (
        request_id,
        f"b-{request_id}",
        ARCHIVE_SIZE,
    )
    assert req_state.unit_status == testing.ActiveStatus(f"last backup b-{request_id}")

    # 4. A second request, then the first id again: answered from the earlier result.
    for again in ("second", request_id):
        req_state = requirer.run(
            requirer.on.action("request-backup", params={"request-id": again}), req_state
        )
        asked = dict(req_state.get_relation(req_rel.id).local_app_data)
        prov_state, prov_rel = with_remote(prov_state, prov_rel, asked)
        prov_state = provider.run(provider.on.relation_changed(prov_rel), prov_state)
    assert [e.request_id for e in requested(provider)] == [request_id, "second"]
    final = answer(prov_state, prov_rel)
    assert (final["request-id"], final["backup-id"]) == (request_id, f"b-{request_id}")
