"""list-backups with many archives: on the unit's storage, and on a 2.8 controller's store.

Measured: the catalogue's listing of the unit's archives (beside the least any listing must
do: parse every metadata file), the client's Backups.list() on Juju 2.8.11 (beside
python-libjuju's Model.get_backups()), and the list-backups action over both (issue 5),
whenever actions.yaml declares it (a row says it was skipped otherwise).
"""

from __future__ import annotations

import datetime
import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import juju_api
from bench.common import (
    REPO,
    BenchError,
    Row,
    clip,
    median,
    mib,
    ratio,
    register_secret,
    run_worker,
    scrub,
    seconds,
    size,
)
from catalogue import Catalogue
from tests.jujusim import Simulator

PROFILE = "2.8.11"
# The smallest archive the simulator makes: a real tar.gz with the metadata and root.tar.
TINY = 0
REPEATS = 5
ACTION = "list-backups"


def _fill_controller(sim: Simulator, count: int) -> list[juju_api.BackupMetadata]:
    """Create ``count`` kept backups; the controller's clock steps a second per reading.

    Backup ids are the second a backup started, so without the stepping clock 1,000 backups
    would take 1,000 seconds.
    """
    base = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    ticks = itertools.count()
    lock = threading.Lock()

    def now() -> datetime.datetime:
        with lock:
            return base + datetime.timedelta(seconds=next(ticks))

    sim.set_clock(now)
    made: list[juju_api.BackupMetadata] = []
    with juju_api.connect(
        sim.endpoints,
        sim.ca_cert,
        sim.username,
        sim.password,
        model_uuid=sim.controller_model_uuid,
    ) as conn:
        backups = juju_api.Backups(conn)
        for number in range(count):
            made.append(backups.create(f"bench {number}", keep_copy=True))
    return made


def _unit_metadata(template: juju_api.BackupMetadata, count: int) -> list[dict[str, Any]]:
    """Metadata of ``count`` other backups, shaped like the controller's (a year earlier).

    The unit's archives are not the controller's: a listing that merges both has 2 x count
    rows. Making them on the controller too would double the slowest part of the set-up.
    """
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    model = template.model or "controller"
    found: list[dict[str, Any]] = []
    for number in range(count):
        started = base + datetime.timedelta(hours=number)
        finished = started + datetime.timedelta(seconds=1)
        wire = template.to_wire()
        wire.update(
            {
                "id": f"{started:%Y%m%d-%H%M%S}.{model}",
                "started": started.isoformat().replace("+00:00", "Z"),
                "finished": finished.isoformat().replace("+00:00", "Z"),
                "notes": f"unit {number}",
            }
        )
        found.append(wire)
    return found


def _fill_unit(root: Path, metadata: list[dict[str, Any]], source: str) -> None:
    """Put one small archive and its metadata file in the catalogue per backup."""
    catalogue = Catalogue(root)
    for meta in metadata:
        catalogue.archive_path(meta["id"]).write_bytes(os.urandom(1024))
        catalogue.add(
            meta["id"],
            meta,
            application="juju-backups",
            trigger="scheduled",
            source=source,
        )


def _times(result: dict[str, Any]) -> float:
    values = [float(t) for t in result["times"]]
    return median(values)


def _action_declared() -> bool:
    actions = yaml.safe_load((REPO / "actions.yaml").read_text()) or {}
    return isinstance(actions, dict) and ACTION in actions


def measure(count: int, log: Callable[[str], None] = print) -> list[Row]:
    """Fill a 2.8.11 controller and a unit directory with ``count`` backups each; list them."""
    sim = Simulator(PROFILE, archive_size=TINY).start()
    secrets = [register_secret(sim.password)]
    root = Path(tempfile.mkdtemp(prefix="bench-list-"))
    try:
        start = time.perf_counter()
        made = _fill_controller(sim, count)
        log(f"  {count} backups created on the controller ({time.perf_counter() - start:.0f} s)")
        start = time.perf_counter()
        _fill_unit(root, _unit_metadata(made[0], count), sim.endpoints[0])
        took = time.perf_counter() - start
        log(f"  {count} other archives catalogued on the unit ({took:.0f} s)")
        access: dict[str, Any] = {
            "endpoints": sim.endpoints,
            "endpoint": sim.endpoints[0],
            "ca_cert": sim.ca_cert,
            "username": sim.username,
            "password": sim.password,
            "model_uuid": sim.controller_model_uuid,
            "repeats": REPEATS,
        }
        cat_run = run_worker("catalogue-list", {"root": str(root), "repeats": REPEATS})
        floor_run = run_worker("json-floor", {"root": str(root), "repeats": REPEATS})
        client_run = run_worker("client-list", access)
        libjuju_run = run_worker("libjuju-list", access)
        action_rows = _measure_action(root, access, count) if _action_declared() else []
        violations = list(sim.violations)
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)
    cat, floor, client = cat_run.result(), floor_run.result(), client_run.result()
    libjuju = libjuju_run.result()
    for name, got in (("catalogue", cat["count"]), ("client", client["count"])):
        if got != count:
            raise BenchError(f"{name} listed {got} of {count} backups")
    if "error" in libjuju:
        libjuju_cell = "cannot"
        libjuju_ratio = "n/a"
        libjuju_note = f"libjuju Model.get_backups(): {clip(libjuju['error'], 220)}"
    else:
        libjuju_cell = seconds(_times(libjuju))
        libjuju_ratio = ratio(_times(client), _times(libjuju))
        libjuju_note = f"libjuju result {size(libjuju['result_bytes'])}"
    notes = [
        f"answer on the wire {size(client['wire_bytes'])} (CA cert and key in every entry), "
        f"kept {size(client['result_bytes'])}; of the time, parsing into BackupMetadata takes "
        f"{seconds(float(client['parse_seconds']))}, the rest is the simulated controller "
        f"building and checking its answer; peak RSS {mib(client_run.max_rss)}",
        libjuju_note,
    ]
    if violations:
        notes.append(f"simulator saw {len(violations)} violation(s): {violations[0]}")
    rows = [
        Row(
            f"list {count:,} archives on the unit: Catalogue.list()",
            seconds(_times(cat)),
            seconds(_times(floor)),
            ratio(_times(cat), _times(floor)),
            f"peer: json.loads of every metadata file, nothing else; result "
            f"{size(cat['result_bytes'])}; peak RSS {mib(cat_run.max_rss)}; median of "
            f"{REPEATS} in one process",
        ),
        Row(
            f"list {count:,} backups on a {PROFILE} controller: Backups.list()",
            seconds(_times(client)),
            libjuju_cell,
            libjuju_ratio,
            scrub("; ".join(notes), secrets),
        ),
    ]
    rows += action_rows or [
        Row(
            f"{ACTION} action ({count:,} on the unit + {count:,} on the controller)",
            "skipped",
            "-",
            "n/a",
            f"actions.yaml declares no {ACTION} action yet (issue 5); measured once it does",
        )
    ]
    return rows


def _measure_action(root: Path, access: dict[str, Any], count: int) -> list[Row]:
    """Run the action in fresh processes through ops.testing, the unit's storage filled."""
    rows: list[Row] = []
    what = f"{ACTION} action ({count:,} on the unit + {count:,} others on the controller)"
    for fmt in ("table", "json"):
        spec = {**access, "repo": str(REPO), "root": str(root), "params": {"format": fmt}}
        walls: list[float] = []
        inner: list[float] = []
        result: dict[str, Any] = {}
        for _ in range(3):
            run = run_worker("list-action", spec)
            try:
                result = run.result()
            except BenchError as error:
                result = {"error": str(error)}
            if "error" in result:
                rows.append(
                    Row(
                        f"{what}, format={fmt}: failed",
                        "-",
                        "-",
                        "n/a",
                        clip(scrub(str(result["error"]), [str(access["password"])]), 240),
                    )
                )
                break
            walls.append(run.wall)
            inner.append(float(result["seconds"]))
        else:
            controller = f"; controller: {clip(str(result['controller']), 80)}"
            rows.append(
                Row(
                    f"{what}, format={fmt}",
                    seconds(median(inner)),
                    "-",
                    "n/a",
                    f"no peer; result {size(int(result['result_bytes']))}, count "
                    f"{result.get('count', '?')}"
                    + (controller if result.get("controller") else "")
                    + f"; ctx.run only (whole process {seconds(median(walls))}); 3 runs",
                )
            )
    return rows
