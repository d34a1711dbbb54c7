"""Hook start-up: the charm dispatching update-status beside a bare ops charm; import times.

Both charms go through the same harness, a fresh Python process that builds an
``ops.testing.Context`` and runs ``update_status``, timed from spawn to exit by the parent.
The charm gets a ready state (credentials secret, archives storage) so that its
collect-status does its full work; it contacts no controller on update-status unless the
last attempt asked to be retried.
"""

from __future__ import annotations

import functools
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import (
    PYTHON,
    REPO,
    Attempts,
    BenchError,
    Row,
    alternate,
    child_env,
    clip,
    median,
    mib,
    ratio,
    register_secret,
    run_process,
    run_worker,
    seconds,
    with_retry,
)

# python -X importtime: "import time: <self us> | <cumulative us> | <indented module name>"
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s?(\s*)(\S+)\s*$")


def measure_hook(ca_cert: str, runs: int, log: Callable[[str], None] = print) -> list[Row]:
    """Dispatch update-status ``runs`` times to each charm, alternating."""
    password = register_secret(secrets.token_urlsafe(12))
    charm_spec = {
        "charm": "charm",
        "repo": str(REPO),
        "username": "backups",
        "password": password,
        "endpoints": ["10.0.0.1:17070"],
        "ca_cert": ca_cert,
    }
    bare_spec = {"charm": "bare"}
    attempts = Attempts.new()
    wall: dict[str, list[float]] = {"charm": [], "bare": []}
    inner: dict[str, list[float]] = {"charm": [], "bare": []}
    rss: dict[str, list[int]] = {"charm": [], "bare": []}
    statuses: dict[str, str] = {}

    def take(name: str, record: bool) -> None:
        run = run_worker("hook", charm_spec if name == "charm" else bare_spec)
        result = run.result()
        statuses[name] = str(result["status"])
        if record:
            wall[name].append(run.wall)
            inner[name].append(float(result["seconds"]))
            rss[name].append(run.max_rss)

    for name in ("charm", "bare"):
        with_retry(name, attempts, functools.partial(take, name, record=False))
    for run, name in alternate(runs, ["charm", "bare"]):
        with_retry(name, attempts, functools.partial(take, name, record=True))
        log(f"  update-status run {run + 1}/{runs} {name}: done")
    if not statuses["charm"].startswith("ActiveStatus"):
        raise BenchError(f"the charm did not reach active: {statuses['charm']}")
    charm_wall, bare_wall = median(wall["charm"]), median(wall["bare"])
    notes = [n for n in (attempts.note("charm"), attempts.note("bare")) if n]
    return [
        Row(
            "update-status hook, whole process (ops.testing harness)",
            seconds(charm_wall),
            seconds(bare_wall),
            ratio(charm_wall, bare_wall),
            "; ".join(
                [
                    f"the charm costs {seconds(charm_wall - bare_wall)} more; of the process, "
                    f"ctx.run takes {seconds(median(inner['charm']))} (bare "
                    f"{seconds(median(inner['bare']))}); {runs} runs each",
                    *notes,
                ]
            ),
        ),
        Row(
            "update-status hook: peak RSS",
            mib(median(rss["charm"])),
            mib(median(rss["bare"])),
            ratio(median(rss["charm"]), median(rss["bare"])),
            f"charm status: {clip(statuses['charm'], 80)}",
        ),
    ]


@dataclass(frozen=True)
class _Imported:
    seconds: float  # cumulative import time of the module
    children: dict[str, float]  # what it imported first-hand (not imported before), seconds
    peak_rss: int


def _import(module: str) -> _Imported:
    """Import ``module`` in a fresh ``python -X importtime``; read its times and peak RSS."""
    # The process reports its own VmHWM after the import (no json import to skew it).
    code = (
        f"import {module}\n"
        "for line in open('/proc/self/status'):\n"
        "    if line.startswith('VmHWM:'):\n"
        "        print('{\"vm_hwm\": %d}' % (int(line.split()[1]) * 1024))\n"
    )
    run = run_process([PYTHON, "-X", "importtime", "-c", code], env=child_env(), timeout=120)
    if run.returncode != 0:
        raise BenchError(f"import {module}: {run.describe()}")
    children: dict[str, float] = {}
    for line in run.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match is None:
            continue
        depth = len(match.group(3)) // 2
        name, cumulative = match.group(4), int(match.group(2)) / 1e6
        # Children are printed before their parent: a new top-level line starts afresh.
        if depth == 0 and name == module:
            return _Imported(cumulative, children, run.max_rss)
        if depth == 0:
            children = {}
        elif depth == 1:
            children[name] = cumulative
    raise BenchError(f"no importtime line for {module}")


def _import_time(module: str) -> tuple[float, int]:
    imported = _import(module)
    return imported.seconds, imported.peak_rss


def measure_imports(runs: int) -> list[Row]:
    """Compare the import of juju_api with python-libjuju's; show where the charm's goes."""
    modules = ["juju_api", "juju", "juju.model"]
    times: dict[str, list[float]] = {m: [] for m in modules}
    rss: dict[str, list[int]] = {m: [] for m in modules}
    for module in modules:  # warm-up: bytecode compiled, files in the page cache
        _import_time(module)
    for _, module in alternate(runs, modules):
        elapsed, peak = _import_time(module)
        times[module].append(elapsed)
        rss[module].append(peak)
    ours_t, ours_rss = median(times["juju_api"]), median(rss["juju_api"])
    rows: list[Row] = []
    for peer, why in (
        ("juju", "libjuju's package __init__ imports nothing, so nothing can be done with it"),
        ("juju.model", "what creating a backup with libjuju needs (Model)"),
    ):
        peer_t, peer_rss = median(times[peer]), median(rss[peer])
        rows.append(
            Row(
                f"import juju_api vs import {peer}",
                seconds(ours_t),
                seconds(peer_t),
                ratio(ours_t, peer_t),
                f"{why}; python -X importtime cumulative, {runs} runs; peak RSS of the "
                f"importing process {mib(ours_rss)} vs {mib(peer_rss)}",
            )
        )
    rows.append(_charm_imports(runs))
    return rows


def _charm_imports(runs: int) -> Row:
    """Where the charm's start-up beyond ops goes: its imports, by direct child of charm."""
    charm = [_import("charm") for _ in range(runs)]
    ops = [_import("ops") for _ in range(runs)]
    charm_t, ops_t = median([c.seconds for c in charm]), median([o.seconds for o in ops])
    names = {n for c in charm for n in c.children}
    shares = {n: median([c.children.get(n, 0.0) for c in charm]) for n in names}
    # Standard-library modules charm.py happens to import first would come with ops anyway.
    own = {n: t for n, t in shares.items() if n != "ops" and n not in sys.stdlib_module_names}
    top = sorted(((t, n) for n, t in own.items()), reverse=True)[:5]
    return Row(
        "import charm (the charm module) vs import ops",
        seconds(charm_t),
        seconds(ops_t),
        ratio(charm_t, ops_t),
        "beyond ops, what charm.py imports first-hand (standard library left out): "
        + ", ".join(f"{n} {seconds(t)}" for t, n in top)
        + f"; {runs} runs",
    )
