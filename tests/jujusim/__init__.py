"""A simulated Juju controller for tests: every generation from 2.3 to 4.0, with faults."""

from .profiles import KNOWN_VERSIONS, Generation, Profile, profile_for
from .simulator import Simulator
from .state import CallRecord

__all__ = ["KNOWN_VERSIONS", "CallRecord", "Generation", "Profile", "Simulator", "profile_for"]
