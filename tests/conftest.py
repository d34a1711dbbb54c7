"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.jujusim import Simulator

MakeSim = Callable[..., Simulator]


@pytest.fixture
def make_sim() -> Iterator[MakeSim]:
    """Start simulated controllers; stop them at teardown and fail on any protocol violation.

    `make_sim("2.8.11", ha=1, archive_size=1 << 20)` returns a started Simulator. A test that
    sends off-schema requests on purpose calls `sim.violations.clear()` once it has checked them.
    """
    sims: list[Simulator] = []

    def make(juju_version: str = "3.6.27", **kwargs: object) -> Simulator:
        sim = Simulator(juju_version, **kwargs)  # pyright: ignore[reportArgumentType]
        sims.append(sim)
        return sim.start()

    yield make
    violations: list[str] = []
    for sim in sims:
        violations.extend(f"[{sim.juju_version}] {v}" for v in sim.violations)
        sim.stop()
    if violations:
        pytest.fail("protocol violations seen by the simulator:\n" + "\n".join(violations))
