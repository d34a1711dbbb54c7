"""Each functional test has its own cron directory: any test may run a hook as the leader."""

from __future__ import annotations

import pytest

from tests.charm_cron import isolate_cron_dir


@pytest.fixture(autouse=True)
def _charm_cron_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_cron_dir(tmp_path_factory, monkeypatch)
