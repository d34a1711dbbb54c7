"""Scheduled backups end to end: the cron entry's event, through ops[testing], against jujusim.

The charm's real code and the real client: the scheduled-backup event (what the leader's cron
entry dispatches) takes a backup whose notes the template filled in with what the login told
about the controller, and retention then keeps exactly what the options say.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from ops import testing
from scenario.state import _Event  # pyright: ignore[reportPrivateUsage]

import service
from catalogue import Catalogue
from charm import LOCK_NAME, JujuBackupsCharm
from tests.conftest import MakeSim
from tests.jujusim import Simulator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RETRY_BACKOFF", 0.0)


def charm_context(charm_root: Path) -> testing.Context[JujuBackupsCharm]:
    # ops[testing] ignores actions.yaml and config.yaml beside a full charmcraft.yaml.
    return testing.Context(
        JujuBackupsCharm,
        meta=yaml.safe_load((ROOT / "charmcraft.yaml").read_text()),
        actions=yaml.safe_load((ROOT / "actions.yaml").read_text()),
        config=yaml.safe_load((ROOT / "config.yaml").read_text()),
        charm_root=charm_root,
    )


def sim_state(sim: Simulator, **config: Any) -> testing.State:
    secret = testing.Secret(
        {
            "username": sim.username,
            "password": sim.password,
            "endpoints": ",".join(sim.endpoints),
            "ca-cert": sim.ca_cert,
        }
    )
    return testing.State(
        config={"credentials": secret.id, "timeout": 10, **config},
        secrets=[secret],
        storages=[testing.Storage("archives")],
        leader=True,
        model=testing.Model(name="backups"),
    )


def scheduled_backup() -> Any:
    # What juju-exec runs from the cron entry: ./dispatch with JUJU_DISPATCH_PATH set.
    return _Event("scheduled-backup")


def storage_root(ctx: testing.Context[JujuBackupsCharm], state: testing.State) -> Path:
    (storage,) = (s for s in state.storages if s.name == "archives")
    return storage.get_filesystem(ctx)


def notes_inside(archive: Path) -> str:
    """The notes the controller wrote into the archive's own metadata."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("juju-backup/metadata.json")
        assert member is not None
        return json.loads(member.read())["Notes"]


@pytest.mark.parametrize("version", ["2.8.11", "3.6.27"])
def test_cron_entry_event_takes_a_backup_with_rendered_notes(
    make_sim: MakeSim, tmp_path: Path, version: str
) -> None:
    sim = make_sim(version)
    ctx = charm_context(tmp_path)
    template = "{trigger} backup of {controller} ({juju-version}) in {model} by {unit}"

    # The leader writes the entry; cron would then run what its command line says.
    state = ctx.run(ctx.on.config_changed(), sim_state(sim, **{"notes-template": template}))
    entry_line = (JujuBackupsCharm.cron_dir / "juju-backups-juju-backups").read_text()
    assert entry_line.splitlines()[-1] == (
        '0 0 * * * root juju-exec juju-backups/0 "JUJU_DISPATCH_PATH=hooks/scheduled-backup '
        './dispatch"'
    )
    assert not [c for c in sim.calls if c.method == "Create"]

    out = ctx.run(scheduled_backup(), state)

    expected = (
        f"scheduled backup of {sim.controller_uuid} ({version}) in backups by juju-backups/0"
    )
    (create,) = [c for c in sim.calls if (c.facade, c.method) == ("Backups", "Create")]
    assert create.params["notes"] == expected
    root = storage_root(ctx, out)
    (entry,) = Catalogue(root).list()
    assert entry.trigger == "scheduled"
    assert entry.metadata["notes"] == expected
    assert notes_inside(entry.archive) == expected
    assert Catalogue(root).verify(entry.id)
    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert re.fullmatch(
        rf"last backup {re.escape(entry.id)} at .+ UTC \(.+\); next backup \S+ 00:00:00 UTC",
        out.unit_status.message,
    ), out.unit_status.message


def test_retention_keeps_exactly_what_the_config_says(make_sim: MakeSim, tmp_path: Path) -> None:
    sim = make_sim("3.6.27", archive_size=64 << 10)
    # Backup ids have a resolution of a second: a clock that moves a minute per reading
    # keeps these quick backups apart, as hours keep real scheduled ones.
    ticks = itertools.count()
    start = datetime.now(timezone.utc) - timedelta(days=1)
    sim.set_clock(lambda: start + timedelta(minutes=next(ticks)))
    ctx = charm_context(tmp_path)
    state = sim_state(sim, **{"retention-count": 0})
    taken: list[str] = []

    for _ in range(4):
        state = ctx.run(scheduled_backup(), state)
        taken.append(Catalogue(storage_root(ctx, state)).list()[0].id)
    root = storage_root(ctx, state)
    assert len(set(taken)) == 4
    assert len(Catalogue(root).list()) == 4  # retention-count 0: no limit

    # Fewer on a config change...
    state = dataclasses.replace(state, config={**state.config, "retention-count": 3})
    state = ctx.run(ctx.on.config_changed(), state)
    assert [e.id for e in Catalogue(root).list()] == taken[:0:-1]

    # ...and after the next backup.
    state = dataclasses.replace(state, config={**state.config, "retention-count": 2})
    state = ctx.run(scheduled_backup(), state)
    newest = Catalogue(root).list()[0].id
    assert [e.id for e in Catalogue(root).list()] == [newest, taken[3]]
    files = sorted(p.name for p in root.iterdir() if p.name != LOCK_NAME)
    stems = sorted(i.removesuffix(".tar.gz") for i in (newest, taken[3]))
    assert files == sorted([f"{s}.json" for s in stems] + [f"{s}.tar.gz" for s in stems])
    assert isinstance(state.unit_status, testing.ActiveStatus)
    assert state.unit_status.message.startswith(f"last backup {newest} at ")
