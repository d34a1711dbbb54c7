"""The charm through ops[testing], with the real client, against the simulated controller.

create-backup end to end on each controller generation, in HA, with keep-copy, and the proof
that neither the password nor the controller's CA private key ends up anywhere the operator
or another process can read.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from ops import testing

import service
from catalogue import Catalogue
from charm import LOCK_NAME, JujuBackupsCharm
from juju_api import connect
from tests.conftest import MakeSim
from tests.jujusim import Simulator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RETRY_BACKOFF", 0.0)


def charm_context() -> testing.Context[JujuBackupsCharm]:
    # ops[testing] ignores actions.yaml and config.yaml beside a full charmcraft.yaml.
    return testing.Context(
        JujuBackupsCharm,
        meta=yaml.safe_load((ROOT / "charmcraft.yaml").read_text()),
        actions=yaml.safe_load((ROOT / "actions.yaml").read_text()),
        config=yaml.safe_load((ROOT / "config.yaml").read_text()),
    )


def sim_secret(sim: Simulator, **override: str) -> testing.Secret:
    content = {
        "username": sim.username,
        "password": sim.password,
        "endpoints": ",".join(sim.endpoints),
        "ca-cert": sim.ca_cert,
    }
    content.update(override)
    return testing.Secret(content)


def sim_state(secret: testing.Secret, **config: Any) -> testing.State:
    # A short API timeout: a connection attempt the simulator leaves unanswered is retried
    # after seconds rather than a minute (the charm retries connecting, as in production).
    return testing.State(
        config={"credentials": secret.id, "timeout": 10, **config},
        secrets=[secret],
        storages=[testing.Storage("archives")],
        leader=True,
    )


def storage_root(ctx: testing.Context[JujuBackupsCharm], state: testing.State) -> Path:
    (storage,) = (s for s in state.storages if s.name == "archives")
    root = storage.get_filesystem(ctx)
    root.mkdir(parents=True, exist_ok=True)
    return root


def storage_files(root: Path) -> list[str]:
    """Everything on the storage but the lock file, hidden files included."""
    return sorted(p.name for p in root.rglob("*") if p.is_file() and p.name != LOCK_NAME)


def sha1_b64(path: Path) -> str:
    return base64.b64encode(hashlib.sha1(path.read_bytes()).digest()).decode()  # noqa: S324


def flatten(results: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in results.items():
        if isinstance(value, Mapping):
            yield from flatten(value, f"{prefix}{key}.")  # pyright: ignore[reportUnknownArgumentType]
        else:
            yield f"{prefix}{key}", value


PROFILES = [("2.8.11", 1), ("2.9.60", 1), ("3.6.27", 1), ("3.6.27", 3)]


@pytest.mark.parametrize(("version", "ha"), PROFILES, ids=[f"{v}-ha{h}" for v, h in PROFILES])
def test_create_backup_downloads_verifies_and_stores(
    make_sim: MakeSim, version: str, ha: int
) -> None:
    sim = make_sim(version, ha=ha, archive_size=8 << 20)
    ctx = charm_context()
    state = sim_state(sim_secret(sim))

    out = ctx.run(ctx.on.action("create-backup", params={"notes": "before upgrade"}), state)

    results = ctx.action_results
    assert results is not None
    root = storage_root(ctx, state)
    archive = Path(results["archive"])
    assert archive.parent == root
    assert archive.is_file()
    meta = results["metadata"]
    assert sha1_b64(archive) == meta["checksum"]
    assert str(archive.stat().st_size) == results["size"] == meta["size"]
    assert meta["version"] == version
    assert meta["notes"] == "before upgrade"
    assert meta["ha-nodes"] == str(ha)
    assert results["backup-id"] == meta["id"]
    assert results["downloaded-from"] in sim.endpoints
    catalogue = Catalogue(root)
    (entry,) = catalogue.list()
    assert entry.id == results["backup-id"]
    assert entry.trigger == "manual"
    assert catalogue.verify(entry.id)
    assert storage_files(root) == sorted([archive.name, f"{archive.name[: -len('.tar.gz')]}.json"])

    logs = ctx.action_logs
    assert logs[0] == f"creating backup on controller {version} at {results['downloaded-from']}"
    progress = [int(m[1]) for line in logs if (m := re.fullmatch(r"downloading (\d+)%", line))]
    assert progress == sorted(progress)
    assert len(progress) >= 5  # 8 MiB in 1 MiB chunks, logged every 10%
    assert progress[-1] == 100
    assert logs[-1] == "checksum verified"

    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert out.unit_status.message.startswith(f"last backup {entry.id} at ")


def test_ha_downloads_from_the_machine_that_created_it(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27", ha=3)
    ctx = charm_context()
    # The second machine listed first: it serves Create, so only it has the archive.
    order = [sim.endpoints[1], sim.endpoints[0], sim.endpoints[2]]
    state = sim_state(sim_secret(sim, endpoints=",".join(order)))

    ctx.run(ctx.on.action("create-backup"), state)

    results = ctx.action_results
    assert results is not None
    assert results["downloaded-from"] == sim.endpoints[1]
    creates = [c for c in sim.calls if (c.facade, c.method) == ("Backups", "Create")]
    assert [c.node for c in creates] == [1]
    assert results["metadata"]["machine"] == "1"
    # 2.9.22 on: the controller deleted its file when the download began.
    assert list(sim.backup_dir(1).iterdir()) == []


def test_keep_copy_on_a_2_8_controller_keeps_it_there(make_sim: MakeSim) -> None:
    sim = make_sim("2.8.11")
    ctx = charm_context()

    ctx.run(ctx.on.action("create-backup", params={"keep-copy": True}), sim_state(sim_secret(sim)))

    results = ctx.action_results
    assert results is not None
    assert results["backup-id"] in sim.stored_backups
    creates = [c for c in sim.calls if (c.facade, c.method) == ("Backups", "Create")]
    assert creates[0].params["keep-copy"] is True


def test_keep_copy_config_on_a_3_6_controller_is_ignored_with_a_note(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    ctx = charm_context()

    ctx.run(ctx.on.action("create-backup"), sim_state(sim_secret(sim), **{"keep-copy": True}))

    assert ctx.action_results is not None
    assert (
        "keep-copy ignored: controller 3.6.27 does not keep copies (only Juju 2.4 to 2.9.21 do)"
        in ctx.action_logs
    )
    creates = [c for c in sim.calls if (c.facade, c.method) == ("Backups", "Create")]
    assert "keep-copy" not in creates[0].params


def test_configured_controller_model_skips_the_lookup(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    ctx = charm_context()
    state = sim_state(
        sim_secret(sim), **{"controller-model-uuid": sim.controller_model_uuid.upper()}
    )

    ctx.run(ctx.on.action("create-backup"), state)

    assert ctx.action_results is not None
    assert not [c for c in sim.calls if c.method == "ListModels"]


def test_two_backups_in_a_row_are_both_kept(make_sim: MakeSim) -> None:
    sim = make_sim("2.9.60")
    ctx = charm_context()
    state = sim_state(sim_secret(sim))
    first = ctx.run(ctx.on.action("create-backup", params={"notes": "one"}), state)
    first_id = (ctx.action_results or {})["backup-id"]
    # 2.9.22 on, archive names have one-second resolution: move the controller's clock on.
    sim.set_clock(_later_clock())

    out = ctx.run(ctx.on.action("create-backup", params={"notes": "two"}), first)

    second_id = (ctx.action_results or {})["backup-id"]
    assert second_id != first_id
    entries = Catalogue(storage_root(ctx, state)).list()
    assert [e.id for e in entries] == [second_id, first_id]  # newest first
    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert second_id in out.unit_status.message


def _later_clock() -> Any:
    import datetime

    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    return lambda: later


def test_config_changed_checks_the_controller(make_sim: MakeSim) -> None:
    sim = make_sim("3.6.27")
    ctx = charm_context()

    out = ctx.run(ctx.on.config_changed(), sim_state(sim_secret(sim)))

    assert isinstance(out.unit_status, testing.ActiveStatus)
    # The leader's status goes on with the schedule.
    assert out.unit_status.message.startswith(
        "ready; no backup taken yet (run create-backup); next backup "
    )
    assert any(c.method == "ListModels" for c in sim.calls)
    assert not any(c.method == "Create" for c in sim.calls)  # a check never makes a backup


# -- secrets stay secret -------------------------------------------------------------------


def test_password_and_ca_private_key_appear_nowhere(
    make_sim: MakeSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim("2.8.11")
    marker = sim.ca_private_key_marker
    assert marker in sim.ca_private_key  # the marker really is a line of the key
    ctx = charm_context()
    secret = sim_secret(sim)
    state = sim_state(secret)

    out = ctx.run(ctx.on.action("create-backup", params={"keep-copy": True}), state)
    # The context reuses its results and logs for the next run: keep copies.
    results = copy.deepcopy(ctx.action_results)
    logs = list(ctx.action_logs)
    # A failing run too: error paths carry controller text.
    sim.download_fault(corrupt=True)
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("create-backup"), out)
    logs += ctx.action_logs
    wrong = dict(secret.tracked_content, password=sim.password + "-wrong")
    bad = testing.Secret(wrong)
    with pytest.raises(testing.ActionFailed) as refused:
        ctx.run(ctx.on.action("create-backup"), sim_state(bad))

    assert results is not None
    texts = {
        "results": json.dumps(results),
        "action logs": "\n".join(logs),
        "python logs": "\n".join(r.getMessage() for r in caplog.records),
        "failure": failed.value.message,
        "refusal": refused.value.message,
        "status": str(out.unit_status),
    }
    root = storage_root(ctx, state)
    for path in root.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("latin-1")
    assert len(texts) >= 7  # the archive and its metadata are among them
    for where, text in texts.items():
        assert marker not in text, f"the CA private key leaked into {where}"
        assert "PRIVATE KEY" not in text, f"a private key leaked into {where}"
        assert sim.password not in text, f"the password leaked into {where}"
        assert "ca-private-key" not in text, f"the ca-private-key field leaked into {where}"
    assert "ca-cert" not in results["metadata"]
    # The controller really sends the key in its Create answer: the test would catch a leak.
    with connect(
        sim.endpoints,
        sim.ca_cert,
        sim.username,
        sim.password,
        model_uuid=sim.controller_model_uuid,
    ) as conn:
        raw = conn.call(
            "Backups", "Create", {"notes": "", "keep-copy": False, "no-download": True}
        )
    assert marker in raw["ca-private-key"]
