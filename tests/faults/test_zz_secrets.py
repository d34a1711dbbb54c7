"""Last of the suite: the password and the CA private keys appear nowhere anyone can read.

Every case fed the session's collector (tests/faults/harness.py `Exposure`): each action's
results, action log, failure message, juju-log lines, unit and app status, stored state,
relation databags, every file on the archives storage, the Python log records and the
output of the worker processes. This case adds a run of every action against a 2.8
controller (whose Backups answers carry the CA private key), then searches it all.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.faults.conftest import Record
from tests.faults.harness import Charm, Exposure, sim_credentials, state
from tests.jujusim import Simulator

Start = Callable[..., Simulator]


def test_no_secret_anywhere(
    controller: Start, charm: Charm, exposure: Exposure, record: Record
) -> None:
    sim = controller("2.8.11")
    assert sim.ca_private_key_marker in sim.ca_private_key
    ready = state(sim_credentials(sim))
    made = charm.action("create-backup", ready, **{"keep-copy": True})
    assert made.ok, made.message
    assert made.results is not None
    backup_id = made.results["backup-id"]
    for action, params in (
        ("list-backups", {"format": "json"}),
        ("list-backups", {}),
        ("show-backup", {"backup-id": backup_id}),
        ("restore", {"backup-id": backup_id}),
        ("prune-backups", {}),
    ):
        run = charm.action(action, made.state, **params)
        assert run.ok, f"{action}: {run.message}"
    sim.download_fault(corrupt=True)
    failed = charm.action("create-backup", made.state)
    assert not failed.ok
    wrong = sim_credentials(sim, password="not-the-password")
    refused = charm.action("create-backup", state(wrong))
    assert not refused.ok

    leaks = exposure.leaks()
    texts = len(exposure.texts)
    record(
        "password and CA private keys searched for after the whole suite",
        f"{texts} texts (results, logs, messages, statuses, stored state, databags, files, "
        f"worker output) searched for {len(exposure.needles)} secrets and any PEM private key",
        "; ".join(leaks[:5]) if leaks else "no",
    )
    assert leaks == []
    assert texts > 20
