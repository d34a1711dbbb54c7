"""The README's main command: the demo runs the real charm against the simulated controller."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("src", "lib", ".")))
    return subprocess.run(
        [sys.executable, "-m", "tools.demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _results_after(output: str, command: str) -> dict:
    """The YAML block `juju run` printed for one command (up to the next hook or command)."""
    block = output.split(command, 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line.startswith(("[hook", "$ ", "\n")) or line.startswith("archive on the unit"):
            break
        if line[:2].isdigit() and line[2:3] == ":":  # a progress line "HH:MM:SS ..."
            continue
        if line.startswith(("Running operation", "  - task", "Waiting for task")) or not line:
            continue
        lines.append(line)
    return yaml.safe_load("\n".join(lines))


@pytest.mark.parametrize("version", ["3.6.27"])
def test_demo_creates_downloads_and_verifies_a_backup(version: str):
    done = _run_demo("--juju-version", version)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "checksum verified" in out
    assert "downloading 100%" in out
    results = _results_after(out, "$ juju run juju-backups/0 create-backup")
    assert results["metadata"]["notes"] == "demo backup"
    assert results["metadata"]["version"] == version
    assert Path(results["archive"]).name in out
    assert "PRIVATE KEY" not in out
    assert "unit status: active: last backup" in out
