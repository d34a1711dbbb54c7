"""Fixtures for integration tests against a real Juju controller.

These tests run only where a controller is reachable (`juju show-controller` succeeds) and a
packed charm is given in CHARM_PATH; everywhere else they are skipped, never faked.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import jubilant
import pytest


def _controller_reachable() -> bool:
    if shutil.which("juju") is None:
        return False
    try:
        subprocess.run(["juju", "show-controller"], check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return False
    return True


@pytest.fixture(scope="session")
def charm_path() -> pathlib.Path:
    if not _controller_reachable():
        pytest.skip("no Juju controller is reachable (juju show-controller failed)")
    path = os.environ.get("CHARM_PATH")
    if not path or not pathlib.Path(path).is_file():
        pytest.skip("set CHARM_PATH to a packed juju-backups charm (charmcraft pack)")
    return pathlib.Path(path).resolve()


@pytest.fixture(scope="module")
def juju(charm_path: pathlib.Path) -> Iterator[jubilant.Juju]:
    with jubilant.temp_model() as juju:
        juju.wait_timeout = 15 * 60
        yield juju


@pytest.fixture(scope="module")
def backups_user(juju: jubilant.Juju) -> Iterator[tuple[str, str]]:
    """A controller user with superuser access, made for this test run and removed after."""
    name = f"backups-it-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(24)
    juju.cli("add-user", name, include_model=False)
    juju.cli(
        "change-user-password", name, "--no-prompt", include_model=False, stdin=password + "\n"
    )
    juju.cli("grant", name, "superuser", include_model=False)
    yield name, password
    juju.cli("remove-user", name, "--yes", include_model=False)
