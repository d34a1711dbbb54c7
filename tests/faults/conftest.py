"""The fault suite's fixtures and its reporter.

Every case calls `record(case, outcome, lost)`; the reporter adds pytest's verdict and writes
the table to tests/faults/RESULTS.md at the end of the session. `exposure` collects every text
the charm showed anyone, so that the last case can search it all for secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import config
import service
from charm import JujuBackupsCharm
from tests.conftest import MakeSim
from tests.faults.harness import CANARY_PASSWORD, CANARY_USER, Charm, Exposure
from tests.jujusim import Simulator

RESULTS = Path(__file__).with_name("RESULTS.md")
AREAS = {
    "test_controller": "controller",
    "test_malformed": "controller (malformed answers)",
    "test_restore": "controller (restore on 2.8)",
    "test_unit": "unit",
    "test_processes": "unit (processes)",
    "test_schedule": "unit (schedule)",
    "test_bad_input": "bad input",
    "test_relation": "bad input (relation)",
    "test_tls": "security (TLS)",
    "test_zz_secrets": "security (secrets)",
}
# Loggers of the simulated controller: what it logs is not the charm's doing.
_SIM_LOGGERS = ("tests.jujusim", "websockets.server", "asyncio")


@dataclass
class Row:
    nodeid: str
    area: str
    case: str
    outcome: str
    lost: str


_ROWS = pytest.StashKey[list[Row]]()
_VERDICTS = pytest.StashKey[dict[str, str]]()
_EXPOSURE = pytest.StashKey[Exposure]()

Record = Callable[[str, str, str], None]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_ROWS] = []
    config.stash[_VERDICTS] = {}
    config.stash[_EXPOSURE] = Exposure()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    verdicts = item.config.stash[_VERDICTS]
    if report.failed:
        verdicts[item.nodeid] = "FAILED"
    elif report.skipped and item.nodeid not in verdicts:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
        verdicts[item.nodeid] = f"pending ({reason.removeprefix('Skipped: ')})"
    elif report.when == "call" and report.passed:
        verdicts.setdefault(item.nodeid, "passed")
    return report


def _whole_suite(config: pytest.Config) -> bool:
    """Whether this run ran every case: no -k, -m, --lf, --collect-only or narrower path."""
    option = config.option
    if option.keyword or option.markexpr or option.collectonly or getattr(option, "lf", False):
        return False
    targets = [Path(arg.split("::", 1)[0]).resolve() for arg in config.args]
    return all("::" not in arg for arg in config.args) and all(
        RESULTS.parent == target or RESULTS.parent.is_relative_to(target) for target in targets
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    items = [i for i in session.items if Path(str(i.path)).parent == RESULTS.parent]
    if not items or not _whole_suite(session.config):
        return  # a partial run must not replace the table of the whole suite
    rows = session.config.stash[_ROWS]
    verdicts = session.config.stash[_VERDICTS]
    recorded = {row.nodeid for row in rows}
    for item in items:
        if item.nodeid not in recorded:
            rows.append(Row(item.nodeid, _area(item.nodeid), item.name, "-", "-"))
    order = {item.nodeid: n for n, item in enumerate(items)}
    areas = list(dict.fromkeys(AREAS.values()))
    rows.sort(
        key=lambda r: (
            areas.index(r.area) if r.area in areas else len(areas),
            order.get(r.nodeid, len(order)),
        )
    )
    counted = [verdicts.get(r.nodeid, "not run") for r in rows]
    passed = counted.count("passed")
    pending = sum(v.startswith("pending") for v in counted)
    failed = counted.count("FAILED")
    lost = sum(r.lost not in ("no", "-") for r in rows)
    lines = [
        "# Fault suite results",
        "",
        "Written by `pytest tests/faults` (tests/faults/conftest.py); do not edit by hand.",
        "",
        f"{len(rows)} cases: {passed} passed, {failed} failed, {pending} pending. "
        f'{lost} record a loss in the "lost?" column (each one says what and why).',
        "",
        "| # | area | case | outcome | lost? | result |",
        "|---|---|---|---|---|---|",
    ]
    for n, (row, verdict) in enumerate(zip(rows, counted, strict=True), 1):
        cells = [str(n), row.area, row.case, row.outcome, row.lost, verdict]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    RESULTS.write_text("\n".join(lines) + "\n")


def _cell(text: str, limit: int = 170) -> str:
    flat = " ".join(text.replace("\x00", "\\x00").split())
    if len(flat) > limit:
        # Whole words only: the table is read, and spell-checked.
        flat = flat[:limit].rsplit(" ", 1)[0] + " ..."
    return flat.replace("|", "\\|")


def _area(nodeid: str) -> str:
    module = Path(nodeid.split("::")[0]).stem
    for prefix, area in AREAS.items():
        if module.startswith(prefix):
            return area
    return module


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Record:
    """record(case, outcome, lost): one row of the results table."""
    rows = request.config.stash[_ROWS]
    nodeid = request.node.nodeid

    def add(case: str, outcome: str, lost: str) -> None:
        rows.append(Row(nodeid, _area(nodeid), case, outcome, lost))

    return add


@pytest.fixture
def exposure(request: pytest.FixtureRequest) -> Exposure:
    return request.config.stash[_EXPOSURE]


@pytest.fixture(autouse=True)
def _collect_logs(
    caplog: pytest.LogCaptureFixture, exposure: Exposure, request: pytest.FixtureRequest
) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    lines = []
    for rec in caplog.records:
        if rec.name.startswith(_SIM_LOGGERS):
            continue
        lines.append(rec.getMessage())
        if rec.exc_text:
            lines.append(rec.exc_text)
    exposure.add(f"{request.node.name}: python logs", "\n".join(lines))


@pytest.fixture(autouse=True)
def cron_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # The leader writes its schedule to /etc/cron.d: never on the machine running the tests.
    cron = tmp_path / "cron.d"
    cron.mkdir()
    monkeypatch.setattr(JujuBackupsCharm, "cron_dir", cron)
    return cron


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # No waiting between retries, and timeouts short enough for a fast suite: the seams the
    # functional tests use too; the code paths are the production ones.
    monkeypatch.setattr(service, "RETRY_BACKOFF", 0.0)
    monkeypatch.setattr(config, "TIMEOUT_RANGE", (1, 3600))
    monkeypatch.setattr(config, "CREATE_TIMEOUT_RANGE", (1, 86400))


@pytest.fixture
def controller(make_sim: MakeSim, exposure: Exposure) -> Callable[..., Simulator]:
    """Start a simulated controller with the canary superuser; its secrets are watched."""

    def start(version: str = "3.6.27", **kwargs: Any) -> Simulator:
        kwargs.setdefault("archive_size", 256 << 10)
        sim = make_sim(version, **kwargs)
        sim.add_user(CANARY_USER, CANARY_PASSWORD, superuser=True)
        exposure.secret("the canary password", CANARY_PASSWORD)
        exposure.secret("the admin password", sim.password)
        exposure.secret(f"the CA private key of a {version} controller", sim.ca_private_key_marker)
        return sim

    return start


@pytest.fixture
def charm(exposure: Exposure) -> Charm:
    return Charm(exposure)
