"""One create-backup end to end: the charm's BackupService beside python-libjuju.

Both run in a fresh process against the same simulated 3.6.27 controller (libjuju speaks only
Backups v3, which Juju serves from 2.9.32 on): connect, log in, Create, download. Ours also
verifies the checksum while streaming, fsyncs and records the archive in the catalogue;
libjuju reads the whole archive into memory and writes it to the current directory. Every
Create makes a new archive, deleted by the controller as it is downloaded.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    Attempts,
    BenchError,
    Row,
    alternate,
    clip,
    median,
    mib,
    ratio,
    register_secret,
    run_worker,
    scrub,
    seconds,
    with_retry,
)
from tests.jujusim import Simulator

PROFILE = "3.6.27"
# A download the simulator cuts short fails the whole backup; it is counted and taken again.
TRIES = 6


@dataclass
class _Samples:
    wall: list[float] = field(default_factory=list)
    op: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def _sample(
    sim: Simulator, kind: str, spec: dict[str, object], samples: _Samples, *, in_cwd: bool
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-create-"))
    seen = len(sim.violations)
    try:
        full = {**spec, "root": str(workdir)}
        run = run_worker(kind, full, cwd=workdir if in_cwd else None)
        result = run.result()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if int(result["size"]) <= 0:
        raise BenchError(f"{kind} stored an empty archive")
    samples.wall.append(run.wall)
    samples.op.append(float(result["seconds"]))
    samples.rss.append(run.max_rss)
    samples.cpu.append(run.cpu)
    samples.violations.extend(sim.violations[seen:])


def measure(size: int, runs: int, log: Callable[[str], None] = print) -> list[Row]:
    """Take ``runs`` backups with each peer, alternating, and compare."""
    sim = Simulator(PROFILE, archive_size=size).start()
    secrets = [register_secret(sim.password)]
    attempts = Attempts.new()
    ours_spec: dict[str, object] = {
        "endpoints": sim.endpoints,
        "ca_cert": sim.ca_cert,
        "username": sim.username,
        "password": sim.password,
        "model_uuid": sim.controller_model_uuid,
    }
    libjuju_spec: dict[str, object] = {**ours_spec, "endpoint": sim.endpoints[0]}
    ours, libjuju = _Samples(), _Samples()
    try:
        model_connect = run_worker("libjuju-model-connect", libjuju_spec).result()["outcome"]

        def take(name: str, samples: _Samples) -> None:
            kind = "service-create" if name == "ours" else "libjuju-create"
            spec = ours_spec if name == "ours" else libjuju_spec
            with_retry(
                name,
                attempts,
                lambda: _sample(sim, kind, spec, samples, in_cwd=name == "libjuju"),
                TRIES,
            )

        take("ours", _Samples())  # warm-up, not counted
        take("libjuju", _Samples())
        for run, name in alternate(runs, ["ours", "libjuju"]):
            take(name, ours if name == "ours" else libjuju)
            log(f"  create-backup {mib(size)} run {run + 1}/{runs} {name}: done")
    finally:
        sim.stop()
    label = f"create-backup {mib(size)}"
    notes = [
        f"{runs} runs each, 3.6.27 profile; libjuju's Model.connect() cannot be used: "
        f"{clip(str(model_connect), 200)}; it runs Model.create_backup() on a Model connected "
        "like Model._connect_direct, without the AllWatcher"
    ]
    notes += [n for n in (attempts.note("ours"), attempts.note("libjuju")) if n]
    if libjuju.violations:
        notes.append(f"simulator flagged libjuju's request: {libjuju.violations[0]}")
    if ours.violations:
        notes.append(f"simulator flagged OUR request: {ours.violations[0]}")
    return [
        Row(
            f"{label}: process wall time",
            seconds(median(ours.wall)),
            seconds(median(libjuju.wall)),
            ratio(median(ours.wall), median(libjuju.wall)),
            scrub("; ".join(notes), secrets),
        ),
        Row(
            f"{label}: operation time (after imports)",
            seconds(median(ours.op)),
            seconds(median(libjuju.op)),
            ratio(median(ours.op), median(libjuju.op)),
            "connect to download end; ours also verifies, fsyncs and catalogues",
        ),
        Row(
            f"{label}: peak RSS",
            mib(median(ours.rss)),
            mib(median(libjuju.rss)),
            ratio(median(ours.rss), median(libjuju.rss)),
            "libjuju holds the whole archive in memory (response.read())",
        ),
        Row(
            f"{label}: CPU time of the process",
            seconds(median(ours.cpu)),
            seconds(median(libjuju.cpu)),
            ratio(median(ours.cpu), median(libjuju.cpu)),
            "ours computes SHA-1 over the archive; libjuju checks nothing",
        ),
    ]
