"""Archive download: the charm's client beside curl, same archive, same simulated controller.

The simulator plays Juju 2.8.11 and the archive is created once with keep-copy, so that it
stays in the controller's store and both peers download the very same file by backup id
(from 2.9.22 on, a download deletes the archive). One simulator per size, started once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import juju_api
from bench.common import (
    MIB,
    Attempts,
    BenchError,
    Row,
    alternate,
    median,
    mib,
    ratio,
    register_secret,
    run_process,
    run_worker,
    scrub,
    seconds,
    with_retry,
)
from tests.jujusim import Simulator

CURL = shutil.which("curl") or "/usr/bin/curl"
# The simulator cuts some large downloads short (see bench/results.md); a failed fetch is
# counted in the notes and taken again.
TRIES = 6
PROFILE = "2.8.11"


@dataclass
class _Samples:
    times: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    fsync: list[float] = field(default_factory=list)
    fsync_cpu: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    sim: Simulator
    meta: juju_api.BackupMetadata
    workdir: Path
    ca_path: Path

    @property
    def endpoint(self) -> str:
        return self.sim.endpoints[0]

    def client_spec(self) -> dict[str, object]:
        return {
            "endpoint": self.endpoint,
            "ca_cert": self.sim.ca_cert,
            "model_uuid": self.sim.controller_model_uuid,
            "username": self.sim.username,
            "password": self.sim.password,
            "backup_id": self.meta.id,
            "dest": str(self.workdir / "ours.tar.gz"),
            "checksum": self.meta.checksum,
            "size": self.meta.size,
        }


def _ours(target: _Target, samples: _Samples) -> None:
    run = run_worker("client-download", target.client_spec())
    try:
        result = run.result()
    finally:
        (target.workdir / "ours.tar.gz").unlink(missing_ok=True)
    if result["size"] != target.meta.size:
        raise BenchError(f"client fetched {result['size']} of {target.meta.size} bytes")
    samples.times.append(float(result["seconds"]))
    samples.rss.append(run.max_rss)
    samples.cpu.append(run.cpu)


def _curl(target: _Target, samples: _Samples) -> None:
    host, port = target.endpoint.rsplit(":", 1)
    dest = target.workdir / "curl.tar.gz"
    argv = [
        CURL,
        "--silent",
        "--show-error",
        "--fail",
        "--config",
        "-",  # the user and password come on stdin, not on the command line
        "--cacert",
        str(target.ca_path),
        "--resolve",
        f"juju-apiserver:{port}:{host}",
        "-X",
        "GET",
        "-H",
        "Content-Type: application/json",
        "--data",
        json.dumps({"id": target.meta.id}),
        f"https://juju-apiserver:{port}/model/{target.sim.controller_model_uuid}/backups",
        "-o",
        str(dest),
        "--write-out",
        "%{time_total} %{size_download} %{http_code}",
    ]
    config = f'user = "user-{target.sim.username}:{target.sim.password}"\n'
    try:
        run = run_process(argv, stdin_text=config)
        if run.returncode != 0:
            raise BenchError(f"curl {run.describe()}")
        total, downloaded, status = run.stdout.split()
        if status != "200" or int(downloaded) != target.meta.size:
            raise BenchError(f"curl got HTTP {status}, {downloaded} of {target.meta.size} bytes")
        # What the client does before it reports success (fsync), timed apart for curl.
        start, cpu_start = time.perf_counter(), time.thread_time()
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        samples.fsync.append(time.perf_counter() - start)
        samples.fsync_cpu.append(time.thread_time() - cpu_start)
    finally:
        dest.unlink(missing_ok=True)
    samples.times.append(float(total))
    samples.rss.append(run.max_rss)
    samples.cpu.append(run.cpu)


def _prepare(size: int) -> _Target:
    sim = Simulator(PROFILE, archive_size=size).start()
    try:
        with juju_api.connect(
            sim.endpoints,
            sim.ca_cert,
            sim.username,
            sim.password,
            model_uuid=sim.controller_model_uuid,
        ) as conn:
            meta = juju_api.Backups(conn).create("bench", keep_copy=True, timeout=600)
        workdir = Path(tempfile.mkdtemp(prefix="bench-download-"))
    except BaseException:
        sim.stop()
        raise
    ca_path = workdir / "ca.pem"
    ca_path.write_text(sim.ca_cert)
    return _Target(sim, meta, workdir, ca_path)


@dataclass(frozen=True)
class DownloadResult:
    """What one size gave: the table rows and the client's largest peak RSS at that size."""

    rows: list[Row]
    size: int
    ours_rss: int


def measure(size: int, runs: int, log: Callable[[str], None] = print) -> DownloadResult:
    """Fetch an archive of ``size`` bytes ``runs`` times with each peer, alternating."""
    target = _prepare(size)
    attempts = Attempts.new()
    secrets = [register_secret(target.sim.password)]
    try:
        baselines = [run_worker("baseline-client", {}) for _ in range(runs)]
        for run in baselines:
            run.result()
        # Warm-up (not counted): the archive enters the page cache, bytecode gets compiled.
        warm_ours, warm_curl = _Samples(), _Samples()
        with_retry("ours", attempts, lambda: _ours(target, warm_ours), TRIES)
        with_retry("curl", attempts, lambda: _curl(target, warm_curl), TRIES)
        ours, curl = _Samples(), _Samples()
        for run, name in alternate(runs, ["ours", "curl"]):
            if name == "ours":
                with_retry("ours", attempts, lambda: _ours(target, ours), TRIES)
            else:
                with_retry("curl", attempts, lambda: _curl(target, curl), TRIES)
            log(f"  download {mib(size)} run {run + 1}/{runs} {name}: done")
        violations = list(target.sim.violations)
    finally:
        target.sim.stop()
        shutil.rmtree(target.workdir, ignore_errors=True)
    actual = target.meta.size
    rate_ours = actual / median(ours.times) / MIB
    rate_curl = actual / median(curl.times) / MIB
    rate_curl_sync = (
        actual / median([t + f for t, f in zip(curl.times, curl.fsync, strict=True)]) / MIB
    )
    label = f"download {mib(actual)}"
    base_cpu = median([b.cpu for b in baselines])
    base_rss = median([b.max_rss for b in baselines])
    notes = [
        f"curl then fsync: {rate_curl_sync:.0f} MiB/s, ours/that "
        f"{ratio(rate_ours, rate_curl_sync)} (ours fsyncs before it returns, curl does not)",
        f"{runs} runs each after a warm-up, 2.8.11 keep-copy archive fetched by id",
    ]
    notes += [n for n in (attempts.note("ours"), attempts.note("curl")) if n]
    if violations:
        notes.append(f"simulator saw {len(violations)} protocol violation(s): {violations[0]}")
    rows = [
        Row(
            f"{label}: throughput (MiB/s, higher is better)",
            f"{rate_ours:.0f}",
            f"{rate_curl:.0f}",
            ratio(rate_ours, rate_curl),
            scrub("; ".join(notes), secrets),
        ),
        Row(
            f"{label}: CPU time of the process",
            seconds(median(ours.cpu)),
            seconds(median(curl.cpu)),
            ratio(median(ours.cpu), median(curl.cpu)),
            f"ours includes starting Python and importing juju_api ({seconds(base_cpu)} "
            f"alone, so about {seconds(max(0.0, median(ours.cpu) - base_cpu))} for the "
            "transfer); ours computes SHA-1 while streaming, curl checks nothing; curl "
            "plus the CPU of an fsync of its file: "
            + seconds(median([c + f for c, f in zip(curl.cpu, curl.fsync_cpu, strict=True)])),
        ),
        Row(
            f"{label}: peak RSS",
            mib(median(ours.rss)),
            mib(median(curl.rss)),
            ratio(median(ours.rss), median(curl.rss)),
            f"largest of the runs {mib(max(ours.rss))} vs {mib(max(curl.rss))}; Python "
            f"importing juju_api and exiting: {mib(base_rss)}",
        ),
    ]
    return DownloadResult(rows, actual, max(ours.rss))


def flatness_row(results: list[DownloadResult]) -> Row | None:
    """Summarise the client's peak RSS across sizes: it must not grow with the archive."""
    if len(results) < 2:
        return None
    small, large = results[0], results[-1]
    growth = large.ours_rss - small.ours_rss
    verdict = "under" if large.ours_rss < 100 * MIB else "OVER"
    return Row(
        f"client peak RSS (largest of the runs), {mib(small.size)} vs {mib(large.size)} archive",
        mib(large.ours_rss),
        mib(small.ours_rss),
        ratio(large.ours_rss, small.ours_rss),
        f"grows by {growth / MIB:+.1f} MiB for {large.size / small.size:.0f}x the bytes; "
        f"{verdict} the 100 MiB limit at {mib(large.size)} (ours = large, peer = small)",
    )
