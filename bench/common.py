"""What every scenario shares: child processes with their peak memory, medians, table rows."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MIB = 1 << 20
T = TypeVar("T")


class BenchError(Exception):
    """One sample failed (a child exited badly, a download was cut short, ...)."""


@dataclass(frozen=True)
class ProcessRun:
    """A finished child process, as the parent saw it.

    Attributes:
        wall: seconds from spawn to exit (interpreter start-up and imports included).
        max_rss: the child's peak resident set size in bytes (VmHWM).
        cpu: user + system CPU seconds of the child.
        returncode: its exit status.
        stdout: what it printed.
        stderr: what it printed on stderr.
    """

    wall: float
    max_rss: int
    cpu: float
    returncode: int
    stdout: str
    stderr: str

    def result(self) -> dict[str, Any]:
        """Return the JSON object a bench worker prints as its last stdout line."""
        lines = self.stdout.strip().splitlines()
        if self.returncode != 0 or not lines:
            raise BenchError(self.describe())
        value = json.loads(lines[-1])
        if not isinstance(value, dict):
            raise BenchError(f"unexpected worker output: {lines[-1][:200]!r}")
        return value  # pyright: ignore[reportUnknownVariableType]

    def describe(self) -> str:
        """Say why the child failed: the last line of its stderr (the exception)."""
        tail = self.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return f"exit {self.returncode}: {tail[0]}"


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    what: str
    ours: str
    peer: str
    ratio: str
    notes: str = ""


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for children: the project's import paths, no Juju hook context.

    Bytecode caching is left on (PYTHONDONTWRITEBYTECODE dropped): a deployed charm writes its
    caches on the first hook, and without them every child would compile every module it
    imports (python-libjuju pulls in the whole Kubernetes client), which measures the compiler.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("JUJU_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    paths = [str(REPO / "src"), str(REPO / "lib"), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def _vm_hwm(pid: int) -> int:
    """Return a live process's peak RSS in bytes (VmHWM), or 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _PeakWatcher(threading.Thread):
    """Polls a child's VmHWM until it exits.

    ``wait4``'s ``ru_maxrss`` cannot be used: Linux carries the parent's peak into a child at
    exec (the benchmark process, simulator included, is larger than most children). VmHWM
    belongs to the process's own address space and only grows, so the last reading is its
    peak up to a few milliseconds before exit.
    """

    def __init__(self, pid: int, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, _vm_hwm(self.pid))
            self.done.wait(self.interval)


def run_process(
    argv: Sequence[str],
    *,
    stdin_text: str = "",
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> ProcessRun:
    """Run a child to completion; measure its wall time, peak RSS and CPU time.

    ``Popen.communicate`` would reap the child and lose its resource usage, so output goes to
    temporary files and the parent reaps the child itself with ``wait4``.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(  # noqa: S603 - argv is built by the bench, never by input
            list(argv),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=dict(env) if env is not None else child_env(),
            text=True,
        )
        watcher = _PeakWatcher(proc.pid)
        watcher.start()
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            assert proc.stdin is not None
            try:
                proc.stdin.write(stdin_text)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
            watcher.done.set()
            watcher.join()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        return ProcessRun(
            wall=wall,
            max_rss=max(watcher.peak, _reported_peak(stdout)),
            cpu=usage.ru_utime + usage.ru_stime,
            returncode=proc.returncode,
            stdout=stdout,
            stderr=err.read(),
        )


def _reported_peak(stdout: str) -> int:
    """Return the VmHWM a bench worker read from /proc/self/status just before exiting."""
    lines = stdout.strip().splitlines()
    try:
        value = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return 0
    peak = value.get("vm_hwm", 0) if isinstance(value, dict) else 0  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return peak if isinstance(peak, int) else 0


def run_worker(
    kind: str, spec: Mapping[str, Any], *, cwd: Path | None = None, timeout: float = 600.0
) -> ProcessRun:
    """Run ``python -m bench.worker KIND`` with ``spec`` as JSON on stdin (not on argv)."""
    return run_process(
        [PYTHON, "-m", "bench.worker", kind],
        stdin_text=json.dumps(spec),
        cwd=cwd,
        env=child_env(),
        timeout=timeout,
    )


@dataclass
class Attempts:
    """Counts the attempts at each peer's samples, and the failed ones."""

    tries: dict[str, int]
    failures: dict[str, int]
    last_error: dict[str, str]

    @classmethod
    def new(cls) -> Attempts:
        return cls({}, {}, {})

    def note(self, name: str) -> str:
        """Describe the failures of ``name`` for the table's notes, or "" if there were none."""
        count = self.failures.get(name, 0)
        if not count:
            return ""
        return (
            f"{name}: {count} of {self.tries[name]} attempts failed and were taken again "
            f"(last: {clip(self.last_error[name], 160)})"
        )


def with_retry(name: str, attempts: Attempts, fn: Callable[[], T], tries: int = 3) -> T:
    """Call ``fn`` until it succeeds, at most ``tries`` times, counting every attempt."""
    for number in range(1, tries + 1):
        attempts.tries[name] = attempts.tries.get(name, 0) + 1
        try:
            return fn()
        except BenchError as failure:
            attempts.failures[name] = attempts.failures.get(name, 0) + 1
            attempts.last_error[name] = str(failure)
            if number == tries:
                raise
    raise AssertionError("unreachable")


def alternate(runs: int, names: Sequence[str]) -> Iterable[tuple[int, str]]:
    """Yield (run, name) so that each peer goes first in turn: no peer always gets a warm cache."""
    for run in range(runs):
        order = list(names) if run % 2 == 0 else list(reversed(names))
        for name in order:
            yield run, name


def median(values: Sequence[float]) -> float:
    """Return the median; raises BenchError when there are no samples."""
    if not values:
        raise BenchError("no samples")
    return statistics.median(values)


def seconds(value: float) -> str:
    """Format a duration for the table."""
    if value < 1.0:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def mib(value: float) -> str:
    """Format a byte count in MiB."""
    return f"{value / MIB:.1f} MiB"


def size(value: float) -> str:
    """Format a byte count with a unit that suits it."""
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KiB"
    return mib(value)


def clip(text: str, width: int) -> str:
    """Shorten text at a word boundary (a cut word would read as a misspelling)."""
    return textwrap.shorten(" ".join(text.split()), width, placeholder=" [...]")


def ratio(ours: float, peer: float) -> str:
    """Format ours / peer."""
    if peer <= 0:
        return "n/a"
    return f"{ours / peer:.2f}x"


_SECRETS: set[str] = set()


def register_secret(secret: str) -> str:
    """Remember a password so that no table cell or log line can carry it; return it."""
    if secret:
        _SECRETS.add(secret)
    return secret


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every registered secret (and ``secrets``) from text that is printed or written."""
    for secret in {*_SECRETS, *secrets}:
        if secret:
            text = text.replace(secret, "***")
    return text
