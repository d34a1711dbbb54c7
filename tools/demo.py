"""The demo: the charm's real code, through ops' testing harness, against the simulated controller.

It starts a simulated controller of the chosen Juju generation, hands the charm a controller
account through a Juju user secret (as an operator would with `juju add-secret`,
`juju grant-secret` and `juju config`), then runs actions and prints each as `juju run` shows
it: the progress lines, then the results as YAML. Nothing is faked on the charm's side: the
client connects over TLS, logs in, calls the Backups facade and downloads the archive.

    python -m tools.demo --juju-version 3.6.27
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from ops import testing

from charm import JujuBackupsCharm
from tests.jujusim import Simulator

ROOT = Path(__file__).resolve().parent.parent
APP = "juju-backups"
# How long the simulated 2.x controller stays down after Restore.
RESTART_SECONDS = 1.0
UNIT = f"{APP}/0"


class Demo:
    """One unit of the charm, its state carried from one event to the next like a real unit's."""

    def __init__(self, sim: Simulator, out: Any) -> None:
        self.sim = sim
        self.out = out
        # The demo's unit has no machine of its own: its cron entry (the leader schedules
        # backups) goes to a scratch directory, not this machine's /etc/cron.d.
        self.cron_dir = tempfile.TemporaryDirectory(prefix="juju-backups-demo-cron.d.")
        JujuBackupsCharm.cron_dir = Path(self.cron_dir.name)
        self.ctx = testing.Context(
            JujuBackupsCharm,
            meta=_load_yaml("charmcraft.yaml"),
            actions=_load_yaml("actions.yaml"),
            config=_load_yaml("config.yaml"),
            app_name=APP,
            unit_id=0,
        )
        secret = testing.Secret(
            {
                "username": sim.username,
                "password": sim.password,
                "endpoints": ",".join(sim.endpoints),
                "ca-cert": sim.ca_cert,
            },
            label="backups-account",
        )
        self.state: testing.State = testing.State(
            leader=True,
            config={"credentials": secret.id},
            secrets={secret},
            storages={testing.Storage("archives")},
        )
        self.operation = 0

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def hook(self, name: str) -> None:
        """Run a hook (install, config-changed, ...) and show the unit's status after it."""
        event = getattr(self.ctx.on, name.replace("-", "_"))()
        self.state = self.ctx.run(event, self.state)
        status = self.state.unit_status
        self.say(f"[hook {name}] unit status: {status.name}: {status.message}")

    def run(self, action: str, **params: Any) -> dict[str, Any] | None:
        """Run an action as `juju run` would, printing what `juju run` prints."""
        self.operation += 2
        shown = " ".join(f"{key}={_quote(value)}" for key, value in params.items())
        self.say()
        self.say(f"$ juju run {UNIT} {action} {shown}".rstrip())
        self.say(f"Running operation {self.operation - 1} with 1 task")
        self.say(f"  - task {self.operation} on unit-{APP}-0")
        self.say()
        self.say(f"Waiting for task {self.operation}...")
        failed: str | None = None
        try:
            self.state = self.ctx.run(self.ctx.on.action(action, params=params), self.state)
        except testing.ActionFailed as failure:
            if isinstance(failure.state, testing.State):
                self.state = failure.state
            failed = failure.message
        # The context starts each action's logs and results afresh: copy what is kept.
        self._show_logs(0)
        results = copy.deepcopy(self.ctx.action_results or {})
        if results:
            # A failed action can have results too (remove-backups: what was removed).
            self.say(yaml.dump(results, Dumper=_ResultsDumper, sort_keys=True, width=99).rstrip())
        if failed is not None:
            self.say(f"ERROR {failed}")
            return None
        return results

    def archives(self) -> Path:
        storage = next(iter(self.state.storages))
        return storage.get_filesystem(self.ctx)

    def _show_logs(self, start: int) -> None:
        for line in self.ctx.action_logs[start:]:
            stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
            self.say(f"{stamp} {line}")


class _ResultsDumper(yaml.SafeDumper):
    """YAML as `juju run` prints it: multi-line values (tables, JSON) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None
    )


_ResultsDumper.add_representer(str, _represent_str)


def _load_yaml(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def _quote(value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f'"{text}"' if " " in text else text


@contextmanager
def _simulator(version: str, archive_size: int) -> Iterator[Simulator]:
    sim = Simulator(juju_version=version, archive_size=archive_size)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def show_the_other_actions(demo: Demo, first: dict[str, Any]) -> bool:
    """A second backup, list-backups, show-backup, restore and remove-backups.

    On controllers that restore through the API (Juju 2.0 to 2.9.21) the restore is checked,
    then run in full, the simulated controller restarting in between; on later ones the
    action's refusal is shown. The second backup is kept on the controller where it can be,
    so that the restore needs no upload.

    Returns:
        Whether every action did what this controller generation should.
    """
    sim = demo.sim
    sim.restore_downtime = RESTART_SECONDS
    _next_second()
    keep = {"keep-copy": True} if sim.profile.keeps_store else {}
    second = demo.run("create-backup", notes="second demo backup", **keep)
    if second is None or demo.run("list-backups") is None:
        return False
    if demo.run("show-backup", **{"backup-id": first["backup-id"]}) is None:
        return False
    target = {"backup-id": second["backup-id"]}
    if sim.profile.api_restore:
        checked = demo.run("restore", **target)
        if checked is None or demo.run("restore", **target, confirm=True) is None:
            return False
    elif demo.run("restore", **target, confirm=True) is not None:
        return False  # this controller cannot restore: the action must say so
    if demo.run("remove-backups", **{"backup-ids": first["backup-id"]}) is None:
        return False
    demo.run("list-backups", format="json")
    demo.hook("update-status")
    return True


def _next_second() -> None:
    # A backup's id is the second its Create started: two in the same second collide.
    time.sleep(1.05 - time.time() % 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--juju-version", default="3.6.27", help="controller generation")
    parser.add_argument(
        "--archive-size", type=int, default=8 << 20, help="bytes of the simulated archive"
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    with _simulator(args.juju_version, args.archive_size) as sim:
        print(
            f"Simulated Juju {args.juju_version} controller at {', '.join(sim.endpoints)}",
            file=out,
        )
        demo = Demo(sim, out)
        print(
            f"$ juju add-secret backups-account username={sim.username} password=*** "
            "endpoints=... ca-cert=...",
            file=out,
        )
        print(f"$ juju config {APP} credentials=secret:...", file=out)
        demo.hook("install")
        demo.hook("config-changed")
        created = demo.run("create-backup", notes="demo backup")
        demo.hook("update-status")
        if created is None:
            return 1
        archive = Path(str(created["archive"]))
        print(f"\narchive on the unit: {archive.name}, {archive.stat().st_size} bytes", file=out)
        if not show_the_other_actions(demo, created):
            return 1
        if sim.violations:
            print(f"protocol violations seen by the controller: {sim.violations}", file=out)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
