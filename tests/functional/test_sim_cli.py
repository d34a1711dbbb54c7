"""`python -m tests.jujusim`: one JSON line, a working controller, a clean exit on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.jujusim.wire import RawRpc, download

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_until_sigterm():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.jujusim"),
            *("--juju-version", "2.9.60", "--ha", "2", "--archive-size", "64KiB"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {
            "endpoints",
            "ca-cert",
            "username",
            "password",
            "controller-model-uuid",
            "controller-uuid",
        }
        assert len(info["endpoints"]) == 2
        with RawRpc(info["endpoints"][1], info["ca-cert"], info["controller-model-uuid"]) as rpc:
            login = rpc.login(info["username"], info["password"])
            assert login["response"]["server-version"] == "2.9.60"
            created = rpc.call("Backups", 3, "Create", {"notes": "cli", "no-download": False})
        meta = created["response"]
        got = download(
            info["endpoints"][1],
            info["ca-cert"],
            info["controller-model-uuid"],
            info["username"],
            info["password"],
            meta["filename"],
        )
        assert len(got.body) == meta["size"]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "violations" not in err
        # The simulator cleans its backup dirs up on the way out.
        assert not Path(meta["filename"]).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_a_bad_size():
    proc = subprocess.run(
        [sys.executable, "-m", "tests.jujusim", "--archive-size", "lots"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "not a size" in proc.stderr
