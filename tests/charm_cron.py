"""Keeps the charm's cron entries out of the machine's /etc/cron.d.

Any test that runs a hook as the leader writes the entry, so the conftests of the directories
whose tests run the charm (tests/unit, tests/functional) give each test its own directory.
It lives apart from tests/conftest.py so that the simulated controller's tests, which know
nothing of the charm, do not import it through the top-level conftest.
"""

from __future__ import annotations

import pytest

from charm import JujuBackupsCharm


def isolate_cron_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point the charm's cron directory at a fresh temporary one for the current test."""
    monkeypatch.setattr(JujuBackupsCharm, "cron_dir", tmp_path_factory.mktemp("cron.d"))
