"""Juju release numbers as comparable values."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+)|-([a-z]+)(\d*))(?:\.(\d+))?$")
_PRE_RANK = {"alpha": 0, "beta": 1, "rc": 2}

VersionKey = tuple[int, int, int, int, int]


def version_key(version: str) -> VersionKey:
    """Sort key: "2.9-rc3" < "2.9.0" < "2.9.1"; pre-releases sort before the .0 release."""
    m = _VERSION.match(version)
    if m is None:
        raise ValueError(f"not a Juju version: {version!r}")
    major, minor, patch, pre, pre_n, _build = m.groups()
    if pre is not None:
        return (int(major), int(minor), -1, _PRE_RANK.get(pre, 0), int(pre_n or 0))
    return (int(major), int(minor), int(patch), 0, 0)
