"""Clocks that jump around a scheduled time: the unit's, and the controller's.

Cron fires the scheduled-backup hook by the unit's clock; the controller stamps each backup
with its own. Either may jump (NTP corrections, a VM resumed after days, a wrong timezone
fixed). No jump may crash a hook, hide a missed backup, or let retention delete the backup
just taken.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from ops import testing
from scenario.state import _Event  # pyright: ignore[reportPrivateUsage]

import charm as charm_module
from tests.faults.conftest import Record
from tests.faults.harness import Charm, losses, lost_text, sim_credentials, state
from tests.jujusim import Simulator

Start = Callable[..., Simulator]
UTC = datetime.timezone.utc
MIDNIGHT = datetime.datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


class Clock:
    """The unit's clock as the charm reads it; tests move it."""

    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


@pytest.fixture
def unit_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(MIDNIGHT)
    monkeypatch.setattr(charm_module, "_utcnow", clock)
    return clock


def scheduled(charm: Charm, before: testing.State, what: str) -> testing.State:
    return charm.event(_Event("scheduled-backup"), before, what).state


def active(out: testing.State) -> str:
    assert isinstance(out.unit_status, testing.ActiveStatus), out.unit_status
    return out.unit_status.message


def test_unit_clock_jumps_forward_past_several_runs(
    controller: Start, charm: Charm, record: Record, unit_clock: Clock
) -> None:
    sim = controller()
    sim.set_clock(lambda: unit_clock.now)
    start = charm.event(charm.ctx.on.config_changed(), state(sim_credentials(sim)), "config")
    out = scheduled(charm, start.state, "scheduled at midnight")
    assert "overdue" not in active(out)

    unit_clock.now = MIDNIGHT + datetime.timedelta(days=3, hours=5)  # a VM resumed
    jumped = charm.event(charm.ctx.on.update_status(), out, "update-status after the jump")
    message = active(jumped.state)
    assert "scheduled backup overdue (due 2026-12-06 00:00:00 UTC)" in message
    assert "next backup 2026-12-09 00:00:00 UTC" in message
    caught_up = scheduled(charm, jumped.state, "the next scheduled run")

    assert "overdue" not in active(caught_up)
    assert len(charm.catalogue().list()) == 2
    found = losses(charm.root())
    record(
        "unit clock jumps 3 days forward past scheduled runs",
        f"status said: {message[message.index('scheduled backup overdue') :]}; cleared by "
        "the next run",
        lost_text(found),
    )
    assert found == []


def test_unit_clock_jumps_back_over_a_run(
    controller: Start, charm: Charm, record: Record, unit_clock: Clock
) -> None:
    sim = controller()
    sim.set_clock(lambda: unit_clock.now)
    start = charm.event(charm.ctx.on.config_changed(), state(sim_credentials(sim)), "config")
    out = scheduled(charm, start.state, "scheduled at midnight")

    unit_clock.now = MIDNIGHT - datetime.timedelta(minutes=10)  # corrected back
    back = charm.event(charm.ctx.on.update_status(), out, "update-status after the jump back")
    message = active(back.state)
    unit_clock.now = MIDNIGHT  # cron fires the same slot again
    again = scheduled(charm, back.state, "the same slot again")

    assert "overdue" not in message
    assert "next backup 2026-12-05 00:00:00 UTC" in message
    # Both runs of the slot are kept (the second got the controller's same-second name, so
    # it was refused rather than replacing the first): nothing is lost either way.
    entries = charm.catalogue().list()
    assert len(entries) >= 1
    assert "failed" not in active(again) or "already on this unit's storage" in active(again)
    found = losses(charm.root())
    record(
        "unit clock jumps back 10 min over a scheduled run; cron fires the slot again",
        f"no overdue, no crash; {len(entries)} archive(s) kept; status: {active(again)}",
        lost_text(found),
    )
    assert found == []


def test_controller_clock_corrected_back_with_retention(
    controller: Start, charm: Charm, record: Record, unit_clock: Clock
) -> None:
    sim = controller()
    ahead = MIDNIGHT + datetime.timedelta(days=1)
    ready = state(sim_credentials(sim), **{"retention-count": 2})
    for minutes in (0, 1):
        stamp = ahead + datetime.timedelta(minutes=minutes)
        sim.set_clock(lambda stamp=stamp: stamp)
        unit_clock.now = MIDNIGHT + datetime.timedelta(minutes=minutes)
        run = charm.action("create-backup", ready)
        assert run.ok, run.message
        ready = run.state
    # NTP puts the controller's clock right: the next backup looks older than the others.
    sim.set_clock(lambda: MIDNIGHT + datetime.timedelta(minutes=2))
    unit_clock.now = MIDNIGHT + datetime.timedelta(minutes=2)

    run = charm.action("create-backup", ready)

    assert run.ok, run.message
    assert run.results is not None
    newest = run.results["backup-id"]
    kept = [e.id for e in charm.catalogue().list()]
    found = losses(charm.root())
    if newest not in kept:
        found.append(f"the backup just taken ({newest}) was pruned at once")
    record(
        "controller clock corrected back a day, retention-count 2",
        f"kept {len(kept)} archives: the two newest by the controller's clock, and the one just "
        "taken",
        lost_text(found),
    )
    assert found == []
    assert len(kept) == 3


def test_schedule_changed_while_overdue(
    controller: Start, charm: Charm, record: Record, unit_clock: Clock
) -> None:
    sim = controller()
    sim.set_clock(lambda: unit_clock.now)
    start = charm.event(charm.ctx.on.config_changed(), state(sim_credentials(sim)), "config")
    out = scheduled(charm, start.state, "scheduled at midnight")
    unit_clock.now = MIDNIGHT + datetime.timedelta(days=2)
    hourly = dataclasses.replace(out, config={**out.config, "schedule": "@hourly"})

    changed = charm.event(charm.ctx.on.config_changed(), hourly, "schedule changed")

    message = active(changed.state)
    assert "overdue" not in message  # a new schedule starts afresh
    assert "next backup 2026-12-07 01:00:00 UTC" in message
    assert any("@hourly" in p.read_text() or "0 * * * *" in p.read_text() for p in _cron(charm))
    found = losses(charm.root())
    record("schedule changed two days after its last run", message, lost_text(found))
    assert found == []


def _cron(charm: Charm) -> list[Path]:
    return list(charm_module.JujuBackupsCharm.cron_dir.iterdir())
