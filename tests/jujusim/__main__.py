"""Serve a simulated controller: `python -m tests.jujusim --juju-version 3.6.27`."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from types import FrameType

from .simulator import Simulator

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
_UNITS |= {"g": 1 << 30, "gib": 1 << 30, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if m is None or m.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 1048576, 64MiB, 1GiB)")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.jujusim", description="Serve a simulated Juju controller."
    )
    parser.add_argument("--juju-version", default="3.6.27", help="release to behave as")
    parser.add_argument("--port", type=int, default=0, help="first machine's port (0: any)")
    parser.add_argument("--ha", type=int, default=1, help="controller machines (API addresses)")
    parser.add_argument("--archive-size", type=parse_size, default=1 << 20, help="e.g. 64MiB")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sim = Simulator(
        args.juju_version, ha=args.ha, archive_size=args.archive_size, port=args.port
    ).start()
    try:
        line = {
            "endpoints": sim.endpoints,
            "ca-cert": sim.ca_cert,
            "username": sim.username,
            "password": sim.password,
            "controller-model-uuid": sim.controller_model_uuid,
            "controller-uuid": sim.controller_uuid,
            "juju-version": sim.juju_version,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    if sim.violations:
        sys.stderr.write("protocol violations:\n" + "\n".join(sim.violations) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
