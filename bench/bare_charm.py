"""The smallest ops charm: the floor that the charm's hook start-up is compared with."""

from __future__ import annotations

import ops

# Parsed from YAML like the charm's own files, so both pay the same harness costs.
METADATA_YAML = """\
name: bare
summary: A charm that does nothing.
description: "The floor for hook start-up: ops dispatching an event to a charm with no handlers."
"""
CONFIG_YAML = "options: {}\n"
ACTIONS_YAML = "{}\n"


class BareCharm(ops.CharmBase):
    """Observes nothing; ops still loads, dispatches and commits state."""
