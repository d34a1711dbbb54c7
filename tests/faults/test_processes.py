"""Faults that need processes of their own: SIGKILL mid-download, two operations at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ops import testing

import lock
from catalogue import Catalogue
from charm import LOCK_NAME
from tests.faults.conftest import Record
from tests.faults.harness import (
    CANARY_PASSWORD,
    CANARY_USER,
    Charm,
    Exposure,
    SharedStorageContext,
    losses,
    lost_text,
    sim_credentials,
    state,
)
from tests.jujusim import Simulator

Start = Callable[..., Simulator]
ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0


class Worker:
    """One charm event in a child process (tests/faults/worker.py)."""

    def __init__(self, job: dict[str, Any]) -> None:
        # The job holds the password: a private file, not the command line.
        path = Path(job["root"]).parent / f"job-{time.monotonic_ns()}.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(job))
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("src", "lib", ""))
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.worker", str(path)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == "ready", self.stderr()

    def result(self) -> dict[str, Any]:
        stdout, stderr = self.proc.communicate(timeout=WAIT)
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        assert lines, f"no result from the worker: {stderr[-3000:]}"
        out = json.loads(lines[-1])
        out["stderr"] = stderr
        return out

    def stderr(self) -> str:
        self.proc.kill()
        return self.proc.communicate(timeout=WAIT)[1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def job(sim: Simulator, root: Path, cron: Path, **extra: Any) -> dict[str, Any]:
    return {
        "root": str(root),
        "cron_dir": str(cron),
        "credentials": {
            "username": CANARY_USER,
            "password": CANARY_PASSWORD,
            "endpoints": ",".join(sim.endpoints),
            "ca-cert": sim.ca_cert,
        },
        "config": {"timeout": 5},
        **extra,
    }


def expose(exposure: Exposure, what: str, out: dict[str, Any]) -> None:
    exposure.add(f"{what}: worker output", json.dumps(out))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def parts(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.name.endswith(".part")] if root.is_dir() else []


def test_killed_during_the_download(
    controller: Start,
    exposure: Exposure,
    record: Record,
    workers: list[Worker],
    tmp_path: Path,
    cron_dir: Path,
) -> None:
    sim = controller("3.6.27", archive_size=2 << 20)
    sim.download_fault(bytes_per_second=400_000)  # about five seconds: time to kill it
    root = tmp_path / "archives"
    worker = Worker(job(sim, root, cron_dir))
    workers.append(worker)
    worker.ready()

    wait_for(lambda: any(p.stat().st_size > 100_000 for p in parts(root)), "a download")
    os.kill(worker.pid, signal.SIGKILL)
    worker.kill()

    # What the dead process left: a partial file, never listed; its lock died with it.
    (part,) = parts(root)
    assert Catalogue(root).list() == []
    assert list(sim.backup_dir(0).iterdir()) == []  # 3.x deleted it when the download began
    assert lock.holder(root / LOCK_NAME) is None
    exposure.add_files("after SIGKILL: archives storage", root)
    # The next hook cleans up, and the next backup works (the lock was released by the kernel).
    charm = Charm(exposure, SharedStorageContext(root))
    charm.event(charm.ctx.on.start(), state(sim_credentials(sim)), "start after SIGKILL")
    assert not part.exists()
    assert parts(root) == []
    run = charm.action("create-backup", state(sim_credentials(sim)))
    assert run.ok, run.message
    found = losses(root)
    record(
        "unit process SIGKILLed mid-download",
        "partial file never listed; lock freed by the kernel; removed by the next hook; "
        f"next backup {run.describe()}",
        lost_text(found, "the interrupted backup (3.x deleted it when the download started)"),
    )
    assert found == []
    assert len(Catalogue(root).list()) == 1


def test_two_create_backup_actions_at_once(
    controller: Start,
    exposure: Exposure,
    record: Record,
    workers: list[Worker],
    tmp_path: Path,
    cron_dir: Path,
) -> None:
    sim = controller("3.6.27")
    sim.delay_next("Backups", "Create", 1.5)  # the winner holds the lock a while
    root = tmp_path / "archives"
    go = tmp_path / "go"
    pair = [Worker(job(sim, root, cron_dir, go=str(go))) for _ in range(2)]
    workers.extend(pair)
    for worker in pair:
        worker.ready()

    go.touch()
    outs = [worker.result() for worker in pair]

    for out in outs:
        expose(exposure, "concurrent create-backup", out)
    (won,) = [o for o in outs if o["ok"]]
    (lost,) = [o for o in outs if not o["ok"]]
    assert lost["message"].startswith(
        "another backup operation is running on this unit: create-backup (manual) "
        f"(pid {won['pid']}, since "
    )
    assert lost["message"].endswith("wait for it to finish, then run create-backup again")
    assert sum(1 for c in sim.calls if c.method == "Create") == 1
    found = losses(root)
    record(
        "two create-backup actions at once, two processes",
        f"one stored {won['results']['backup-id']}; the other refused: {lost['message']}",
        lost_text(found),
    )
    assert found == []
    assert [e.id for e in Catalogue(root).list()] == [won["results"]["backup-id"]]


def test_scheduled_run_while_an_action_runs(
    controller: Start,
    exposure: Exposure,
    record: Record,
    workers: list[Worker],
    tmp_path: Path,
    cron_dir: Path,
) -> None:
    sim = controller("3.6.27")
    sim.delay_next("Backups", "Create", 2.0)
    root = tmp_path / "archives"
    go_action, go_scheduled = tmp_path / "go-action", tmp_path / "go-scheduled"
    # Both processes are started and ready first: starting Python takes longer than a backup.
    action = Worker(job(sim, root, cron_dir, go=str(go_action)))
    scheduled = Worker(job(sim, root, cron_dir, go=str(go_scheduled), event="scheduled-backup"))
    workers.extend([action, scheduled])
    action.ready()
    scheduled.ready()
    go_action.touch()
    wait_for(lambda: lock.holder(root / LOCK_NAME) is not None, "the action to take the lock")
    go_scheduled.touch()
    skipped = scheduled.result()
    done = action.result()

    expose(exposure, "scheduled run while an action runs", skipped)
    expose(exposure, "the action the scheduled run met", done)
    assert done["ok"], done["message"]
    assert skipped["ok"]  # a hook: it must not fail, only skip
    lines = [m for m in skipped["juju_log"] if m.startswith("scheduled backup skipped")]
    assert len(lines) == 1, skipped["juju_log"]
    (line,) = lines
    assert f"create-backup (manual) (pid {action.pid}" in line
    assert sum(1 for c in sim.calls if c.method == "Create") == 1
    found = losses(root)
    record(
        "scheduled run fires while create-backup runs",
        f"the scheduled hook skipped with a log line ({line}); the action stored "
        f"{done['results']['backup-id']}",
        lost_text(found),
    )
    assert found == []


def test_start_hook_while_a_download_runs(
    controller: Start,
    exposure: Exposure,
    record: Record,
    workers: list[Worker],
    tmp_path: Path,
    cron_dir: Path,
) -> None:
    # The clean-up of half-written files must not delete the .part of a running download.
    sim = controller("3.6.27", archive_size=1 << 20)
    sim.download_fault(bytes_per_second=400_000)
    root = tmp_path / "archives"
    action = Worker(job(sim, root, cron_dir))
    workers.append(action)
    action.ready()
    wait_for(lambda: bool(parts(root)), "the download to start")

    charm = Charm(exposure, SharedStorageContext(root))
    run = charm.event(charm.ctx.on.start(), state(sim_credentials(sim)), "start during download")
    assert parts(root)  # still there: the running download's file was left alone
    done = action.result()

    expose(exposure, "download the start hook met", done)
    assert done["ok"], done["message"]
    assert isinstance(run.status, testing.MaintenanceStatus | testing.ActiveStatus)
    found = losses(root)
    record(
        "start hook (storage clean-up) while a download runs",
        f"clean-up skipped while locked; the download finished: {done['results']['backup-id']}",
        lost_text(found),
    )
    assert found == []
