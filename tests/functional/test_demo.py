"""The README's main command: the demo runs the real charm against the simulated controller."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    # Cached: several tests read the same run's output.
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


@pytest.mark.parametrize("version", ["3.6.27", "2.8.11"])
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


@pytest.mark.parametrize("version", ["3.6.27", "2.8.11"])
def test_demo_lists_shows_restores_and_removes(version: str):
    done = _run_demo("--juju-version", version)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    run = "$ juju run juju-backups/0"
    first = _results_after(out, f"{run} create-backup")["backup-id"]
    second = _results_after(out, f'{run} create-backup notes="second demo backup"')["backup-id"]
    listing = _results_after(out, f"{run} list-backups\n")
    assert listing["count"] == "2"
    rows = [line.split() for line in listing["backups"].splitlines()[1:]]
    assert [row[0] for row in rows] == [second, first]
    shown = _results_after(out, f"{run} show-backup backup-id={first}")
    assert shown["archive-intact"] == "true"
    assert shown["metadata"]["notes"] == "demo backup"
    if version == "2.8.11":
        assert rows[0][5] == "unit,controller"  # kept on the controller too
        check = _results_after(out, f"{run} restore backup-id={second}\n")
        assert check["upload-needed"] == "false"
        assert "PrepareRestore" in check["plan"]
        restored = _results_after(out, f"{run} restore backup-id={second} confirm=true")
        assert restored["restored"] == second
        assert restored["result"] == (
            f"controller 2.8.11 restored backup {second} and confirmed it (FinishRestore)"
        )
        for step in ("PrepareRestore:", "Restore:", "FinishRestore:"):
            assert f" {step} controller 2.8.11 " in out
    else:
        refusal = next(line for line in out.splitlines() if line.startswith("ERROR "))
        assert refusal.startswith(f"ERROR controller {version} cannot restore through its API")
        assert "standalone juju-restore tool" in refusal
        assert f"{second}.tar.gz" in refusal
        assert "The archive is on this unit at /" in refusal
    removed = _results_after(out, f"{run} remove-backups backup-ids={first}")
    assert removed["removed"] == "1"
    assert removed["results"]["1"] == {"id": first, "removed-from": "unit"}
    remaining = _results_after(out, f"{run} list-backups format=json")
    assert [row["id"] for row in json.loads(remaining["backups"])] == [second]
    assert "PRIVATE KEY" not in out
