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
import sys
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
UNIT = f"{APP}/0"


class Demo:
    """One unit of the charm, its state carried from one event to the next like a real unit's."""

    def __init__(self, sim: Simulator, out: Any) -> None:
        self.sim = sim
        self.out = out
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
        logs_before = len(self.ctx.action_logs)
        try:
            self.state = self.ctx.run(self.ctx.on.action(action, params=params), self.state)
        except testing.ActionFailed as failure:
            self._show_logs(logs_before)
            if isinstance(failure.state, testing.State):
                self.state = failure.state
            self.say(f"ERROR {failure.message}")
            return None
        self._show_logs(logs_before)
        results = self.ctx.action_results or {}
        self.say(yaml.safe_dump(results, sort_keys=True, width=99).rstrip())
        return results

    def archives(self) -> Path:
        storage = next(iter(self.state.storages))
        return storage.get_filesystem(self.ctx)

    def _show_logs(self, start: int) -> None:
        for line in self.ctx.action_logs[start:]:
            stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
            self.say(f"{stamp} {line}")


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
        if sim.violations:
            print(f"protocol violations seen by the controller: {sim.violations}", file=out)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
