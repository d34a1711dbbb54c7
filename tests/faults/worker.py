"""Run one charm event in a process of its own (python -m tests.faults.worker job.json).

The job (a private file, so that the password is in no command line) names the storage
directory the processes share, the controller's credentials and the event. The worker prints
"ready", waits for the `go` file when one is named, runs the event, and prints one JSON line:
ok, message, results, logs, pid.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ops import testing
from scenario.state import _Event  # pyright: ignore[reportPrivateUsage]

from charm import JujuBackupsCharm
from tests.faults.harness import SharedStorageContext


def main() -> int:
    job: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    JujuBackupsCharm.cron_dir = Path(job["cron_dir"])
    ctx = SharedStorageContext(Path(job["root"]))
    secret = testing.Secret(job["credentials"])
    state = testing.State(
        config={"credentials": secret.id, **job.get("config", {})},
        secrets=[secret],
        storages=[testing.Storage("archives")],
        leader=True,
    )
    print("ready", flush=True)
    go = job.get("go")
    while go and not Path(go).exists():
        time.sleep(0.01)
    out: dict[str, Any] = {"pid": os.getpid()}
    try:
        if job.get("event") == "scheduled-backup":
            # What Juju's dispatch of hooks/scheduled-backup (the cron entry) is.
            ctx.run(_Event("scheduled-backup"), state)
            out.update(ok=True, message="", results=None)
        else:
            action = job.get("action", "create-backup")
            ctx.run(ctx.on.action(action, params=job.get("params", {})), state)
            out.update(ok=True, message="", results=ctx.action_results)
    except testing.ActionFailed as failed:
        out.update(ok=False, message=failed.message, results=None)
    out["logs"] = list(ctx.action_logs)
    out["juju_log"] = [line.message for line in ctx.juju_log]
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
