"""``python -m bench [--quick] [--only NAME ...] [--output PATH | --no-write]``.

Runs each benchmark beside its peer, prints the table, and (full runs) puts it first in
bench/results.md. A scenario that fails gets a "failed" row and makes the exit status 1; the
others still run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import create, download, hooks, listing, report
from bench.common import MIB, Row, clip, mib, scrub
from tests.jujusim import Simulator

SCENARIOS = ("download", "create", "hooks", "list")


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one run."""

    download_sizes: tuple[int, ...]
    create_size: int
    list_count: int
    small_runs: int
    large_runs: int
    hook_runs: int

    def runs_for(self, size: int) -> int:
        """Fewer repetitions for the large archive: it is the ten-minute budget's main cost."""
        return self.large_runs if size >= 512 * MIB else self.small_runs

    def describe(self) -> str:
        return (
            f"download {', '.join(mib(s) for s in self.download_sizes)}; "
            f"create-backup {mib(self.create_size)}; list {self.list_count:,} backups; "
            f"runs: {self.small_runs} (small), {self.large_runs} (1 GiB), "
            f"{self.hook_runs} (hooks, imports)"
        )


FULL = Plan((64 * MIB, 1024 * MIB), 64 * MIB, 1000, 5, 3, 7)
QUICK = Plan((8 * MIB,), 8 * MIB, 100, 3, 3, 3)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _failed(name: str, error: BaseException) -> Row:
    text = clip(scrub(f"{type(error).__name__}: {error}"), 300)
    return Row(f"{name}: failed", "-", "-", "n/a", text)


def _run(name: str, fn: Callable[[], list[Row]], rows: list[Row]) -> bool:
    _log(f"{name} ...")
    start = time.perf_counter()
    try:
        got = fn()
    except Exception as error:  # one failing scenario must not hide the rest
        traceback.print_exc(file=sys.stderr)
        rows.append(_failed(name, error))
        return False
    rows.extend(got)
    _log(f"{name}: {time.perf_counter() - start:.0f} s")
    return not any(row.what.endswith(": failed") for row in got)


def _download_rows(plan: Plan) -> list[Row]:
    # Each size on its own: a failure at 1 GiB keeps the 64 MiB rows.
    results: list[download.DownloadResult] = []
    rows: list[Row] = []
    for size in plan.download_sizes:
        try:
            result = download.measure(size, plan.runs_for(size), _log)
        except Exception as error:  # reported as a row; the next size still runs
            traceback.print_exc(file=sys.stderr)
            rows.append(_failed(f"download {mib(size)}", error))
            continue
        results.append(result)
        rows.extend(result.rows)
    flat = download.flatness_row(results)
    return [*rows, flat] if flat else rows


def _hook_rows(plan: Plan) -> list[Row]:
    # A real CA certificate for the credentials secret; the simulator is never started.
    sim = Simulator("3.6.27")
    try:
        ca = sim.ca_cert
    finally:
        sim.stop()
    return hooks.measure_hook(ca, plan.hook_runs, _log) + hooks.measure_imports(plan.hook_runs)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these")
    parser.add_argument("--output", type=Path, help="write the results to this file")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    chosen = args.only or list(SCENARIOS)
    output: Path | None = args.output
    if output is None and not args.quick and not args.no_write and not args.only:
        output = report.RESULTS
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()[0]
    clock = time.perf_counter()
    rows: list[Row] = []
    ok = True
    steps: dict[str, Callable[[], list[Row]]] = {
        "download": lambda: _download_rows(plan),
        "create": lambda: create.measure(plan.create_size, plan.small_runs, _log),
        "hooks": lambda: _hook_rows(plan),
        "list": lambda: listing.measure(plan.list_count, _log),
    }
    for name in SCENARIOS:
        if name in chosen:
            ok = _run(name, steps[name], rows) and ok
    info = report.RunInfo(
        mode=("quick" if args.quick else "full") + ("" if not args.only else f", only {chosen}"),
        sizes=plan.describe(),
        when=started,
        elapsed=time.perf_counter() - clock,
        load_before=load_before,
        load_after=os.getloadavg()[0],
    )
    text = report.render(info, rows)
    print(text)
    if output is not None:
        report.write(text, output)
        _log(f"written to {output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
