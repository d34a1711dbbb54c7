"""The results table: rendered for stdout and kept in bench/results.md, newest run first."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.common import Row, scrub

RESULTS = Path(__file__).resolve().parent / "results.md"
KEEP_RUNS = 10
_RUN_HEADING = "## Run "

PREAMBLE = """\
# Benchmark results

Written by `tox -e bench` (`python -m bench`); full runs only, newest first, the last
{keep} kept (older ones are in git history). `--quick` runs print their table and write
nothing unless given `--output`.

How to read the tables:
- Every measurement runs beside its peer in the same run, on the same simulated controller
  (tests/jujusim, served from the benchmark's own process), alternating which goes first.
  Numbers are medians; times of whole processes are measured from spawn to exit, peak memory
  is the child's own VmHWM (`wait4`'s `ru_maxrss` would include the parent's, which Linux
  carries into a child at exec), CPU time is its user + system time from `wait4`.
- **ratio = ours / peer.** For times, CPU and memory, below 1 means we do better; for
  throughput, above 1 means we do better.
- The simulator is Python (asyncio TLS, one core) and runs on the same machine, so download
  throughput is bounded by the server and by what is left of the CPUs; the CPU time rows say
  what each client itself costs, whatever the server.
- "N of M attempts failed and were taken again": a sample failed (most often a download cut
  short by the simulator, which drops the end of a response it has not flushed yet) and was
  taken again; failed attempts are not in the medians.
- The load average at the start and end of the run says how busy the machine was otherwise.
"""


@dataclass(frozen=True)
class RunInfo:
    """What the heading of a run records."""

    mode: str
    sizes: str
    when: datetime.datetime
    elapsed: float
    load_before: float
    load_after: float


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _curl_version() -> str:
    curl = shutil.which("curl")
    if curl is None:
        return "not found"
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv
            [curl, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return "unknown"
    return " ".join(out.split()[:2]) if out else "unknown"


def _environment() -> str:
    # Import times depend on how many distributions are installed (entry point scans).
    count = sum(1 for _ in metadata.distributions())
    where = Path(sys.prefix)
    with contextlib.suppress(ValueError):
        where = where.relative_to(Path.cwd())
    return f"{where} ({count} distributions installed)"


def _cell(text: str) -> str:
    return scrub(text).replace("|", "\\|").replace("\n", " ")


def render(info: RunInfo, rows: Sequence[Row]) -> str:
    """Render one run: a heading with the machine and versions, then the table."""
    lines = [
        f"{_RUN_HEADING}{info.when:%Y-%m-%d %H:%M} UTC ({info.mode})",
        "",
        f"- Machine: {os.cpu_count()} CPUs ({platform.machine()}), {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}",
        f"- Environment: {_environment()}",
        f"- Sizes: {info.sizes}",
        f"- Peers: {_curl_version()}; python-libjuju (juju) {_version('juju')}; "
        f"ops {_version('ops')}; websockets {_version('websockets')}",
        f"- The whole run took {info.elapsed:.0f} s; load average {info.load_before:.2f} at "
        f"the start, {info.load_after:.2f} at the end",
        "",
        "| what | ours | peer | ratio | notes |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(r.what)} | {_cell(r.ours)} | {_cell(r.peer)} | {_cell(r.ratio)} | "
        f"{_cell(r.notes)} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def write(run_text: str, path: Path = RESULTS) -> None:
    """Put the run first in the results file, keeping the last KEEP_RUNS runs."""
    runs: list[str] = []
    if path.exists():
        body = path.read_text()
        at = body.find(_RUN_HEADING)
        if at >= 0:
            runs = [
                _RUN_HEADING + part.strip() + "\n"
                for part in re.split(rf"^{re.escape(_RUN_HEADING)}", body[at:], flags=re.M)
                if part.strip()
            ]
    runs = [run_text, *runs][:KEEP_RUNS]
    text = PREAMBLE.format(keep=KEEP_RUNS) + "\n" + "\n".join(runs)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
