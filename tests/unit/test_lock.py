"""The operation lock, held by real separate processes and by threads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import lock
from lock import Busy

SRC = Path(__file__).resolve().parents[2] / "src"

# Takes the lock, says so, and holds it until stdin closes (or the process is killed).
HOLDER = """
import pathlib, sys
import lock
with lock.exclusive(pathlib.Path(sys.argv[1]), sys.argv[2]):
    print("locked", flush=True)
    sys.stdin.read()
print("released", flush=True)
"""

pytestmark = pytest.mark.timeout(60)  # a lock that blocks instead of refusing hangs here


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "operation.lock"


class Holder:
    def __init__(self, path: Path, description: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), description],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line == "locked\n", f"holder did not take the lock: {line!r}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> str:
        out, _ = self.proc.communicate("")
        return out

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def spawn() -> Iterator[type[Holder]]:
    holders: list[Holder] = []

    class Tracked(Holder):
        def __init__(self, path: Path, description: str) -> None:
            super().__init__(path, description)
            holders.append(self)

    yield Tracked
    for holder in holders:
        holder.cleanup()


def test_a_second_process_is_refused_at_once_and_told_who_holds_it(
    lock_path: Path, spawn: type[Holder]
) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    holder = spawn(lock_path, "create-backup (manual)")
    with pytest.raises(Busy) as info, lock.exclusive(lock_path, "create-backup (scheduled)"):
        pytest.fail("took a lock another process holds")
    busy = info.value
    assert busy.description == "create-backup (manual)"
    assert busy.pid == holder.pid
    assert busy.since is not None
    assert busy.since >= before
    assert busy.since <= datetime.now(timezone.utc)
    assert busy.holder.startswith(f"create-backup (manual) (pid {holder.pid}, since ")
    assert busy.holder.endswith(" UTC)")
    assert str(busy) == f"another operation is running: {busy.holder}"


def test_holder_reports_a_live_holder(lock_path: Path, spawn: type[Holder]) -> None:
    holder = spawn(lock_path, "restore 20261204-151900.abc")
    described = lock.holder(lock_path)
    assert described is not None
    assert described.startswith(f"restore 20261204-151900.abc (pid {holder.pid}, since ")


def test_the_lock_is_released_when_the_holder_dies(lock_path: Path, spawn: type[Holder]) -> None:
    holder = spawn(lock_path, "create-backup")
    holder.kill()
    # The dead holder's record is still in the file, but not its lock.
    assert json.loads(lock_path.read_text())["pid"] == holder.pid
    assert lock.holder(lock_path) is None
    with lock.exclusive(lock_path, "after the crash"):
        described = lock.holder(lock_path)
        assert described is not None
        assert described.startswith(f"after the crash (pid {os.getpid()}, ")


def test_the_lock_is_released_when_the_holder_leaves(lock_path: Path, spawn: type[Holder]) -> None:
    holder = spawn(lock_path, "create-backup")
    assert holder.release() == "released\n"
    assert lock_path.read_text() == ""
    assert lock.holder(lock_path) is None
    with lock.exclusive(lock_path, "next"):
        pass


def test_a_process_is_refused_while_this_one_holds_it(lock_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    probe = (
        "import pathlib, sys, lock\n"
        "try:\n"
        "    with lock.exclusive(pathlib.Path(sys.argv[1]), 'probe'):\n"
        "        print('acquired')\n"
        "except lock.Busy as e:\n"
        "    print(e.holder)\n"
    )
    with lock.exclusive(lock_path, "list-backups"):
        out = subprocess.run(
            [sys.executable, "-c", probe, str(lock_path)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    assert out.startswith(f"list-backups (pid {os.getpid()}, since ")
    after = subprocess.run(
        [sys.executable, "-c", probe, str(lock_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert after == "acquired\n"


def test_another_thread_is_refused(lock_path: Path) -> None:
    outcome: list[object] = []

    def contender() -> None:
        try:
            with lock.exclusive(lock_path, "thread"):
                outcome.append("acquired")
        except Busy as e:
            outcome.append(e)

    with lock.exclusive(lock_path, "main thread"):
        thread = threading.Thread(target=contender)
        thread.start()
        thread.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], Busy)
    assert outcome[0].description == "main thread"


def test_the_lock_is_not_reentrant(lock_path: Path) -> None:
    with (
        lock.exclusive(lock_path, "outer"),
        pytest.raises(Busy, match="outer"),
        lock.exclusive(lock_path, "inner"),
    ):
        pytest.fail("took the lock twice")


def test_released_after_an_exception(lock_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), lock.exclusive(lock_path, "failing"):
        raise RuntimeError("boom")
    assert lock.holder(lock_path) is None
    assert lock_path.read_text() == ""
    with lock.exclusive(lock_path, "next"):
        pass


def test_record_while_held(lock_path: Path) -> None:
    with lock.exclusive(lock_path, "create-backup"):
        record = json.loads(lock_path.read_text())
    assert record["description"] == "create-backup"
    assert record["pid"] == os.getpid()
    assert datetime.fromisoformat(record["since"]).tzinfo is not None
    # The file stays: deleting a lock file lets two processes lock two different inodes.
    assert lock_path.exists()


def test_a_busy_lock_without_a_readable_record_still_refuses(lock_path: Path) -> None:
    with lock.exclusive(lock_path, "first"):
        lock_path.write_text("not json")
        with pytest.raises(Busy) as info, lock.exclusive(lock_path, "second"):
            pytest.fail("took a held lock")
    assert info.value.pid is None
    assert info.value.since is None
    assert info.value.holder == "an operation that has not said what it is"


def test_holder_counts_a_process_it_may_not_signal_as_alive(
    lock_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_path.write_text('{"description": "create-backup", "pid": 4242, "since": null}')

    def kill(pid: int, sig: int) -> None:
        assert (pid, sig) == (4242, 0)
        raise PermissionError("operation not permitted")

    monkeypatch.setattr(lock.os, "kill", kill)
    assert lock.holder(lock_path) == "create-backup (pid 4242)"


def test_holder_without_a_file(lock_path: Path) -> None:
    assert lock.holder(lock_path) is None
    assert not lock_path.exists()


@pytest.mark.parametrize(
    "content",
    [
        "",
        "garbage",
        "[1, 2]",
        '{"description": "x"}',
        '{"description": "x", "pid": "12"}',
        '{"description": "x", "pid": true}',
        '{"description": "x", "pid": -1}',
    ],
)
def test_holder_with_an_unusable_record(lock_path: Path, content: str) -> None:
    lock_path.write_text(content)
    assert lock.holder(lock_path) is None


def test_busy_describes_itself_with_what_it_knows() -> None:
    since = datetime(2026, 12, 4, 15, 19, 7, tzinfo=timezone.utc)
    assert Busy("create-backup", 42, since).holder == (
        "create-backup (pid 42, since 2026-12-04 15:19:07 UTC)"
    )
    assert Busy("create-backup", 42).holder == "create-backup (pid 42)"
    assert Busy("").holder == "an operation that has not said what it is"
