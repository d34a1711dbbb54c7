"""Backup schedules: cron expressions, their runs, and the ``/etc/cron.d`` entry.

Expressions are what the machine's cron (Debian's) understands: five fields, or one of the
``@hourly``-style macros. ``cronsim`` computes the runs, but it also accepts things Debian cron
does not (a seconds field, ``L``, ``W``, ``#``, ``5/10``), which would make the charm promise
runs that never happen, so each field is checked against Debian cron's syntax first. The
expression is then rebuilt from its checked fields, which is what keeps anything else (a
second line, a command) out of the cron file.

Runs are computed in UTC. Cron reads the expression in the machine's local time, which is
UTC on the cloud images Juju provisions; on a machine set to another zone the times reported
here would be off by that zone's offset.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from cronsim import CronSim, CronSimError

from atomicfile import write_atomically

DISPATCH = "JUJU_DISPATCH_PATH=hooks/scheduled-backup ./dispatch"
CRON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELD_CHARS = re.compile(r"[0-9A-Za-z*,/-]+")
_FIELD_BAD_CHAR = re.compile(r"[^0-9A-Za-z*,/-]")
# Juju's own rule for application names (names.IsValidApplication), then "/<number>".
_UNIT_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*/[0-9]+")
# Debian's cron ignores files in /etc/cron.d whose names hold anything else (run-parts rules).
_CRON_FILE_RE = re.compile(r"[A-Za-z0-9_-]+")
_REFERENCE = datetime(2000, 1, 1, tzinfo=timezone.utc)
_SYNTAX = "five fields (minute hour day-of-month month day-of-week) or one of " + ", ".join(MACROS)


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message names the bad part."""


@dataclass(frozen=True)
class Schedule:
    """A valid schedule.

    Attributes:
        expr: the expression, normalised (single spaces; macros in lower case).
        cron: the five-field form written to the cron file.
    """

    expr: str
    cron: str

    def next_after(self, dt: datetime) -> datetime:
        """Return the first run strictly after ``dt``.

        Args:
            dt: a timezone-aware time.

        Returns:
            The run time, in UTC.
        """
        return self._iterate(dt, reverse=False)

    def previous_before(self, dt: datetime) -> datetime:
        """Return the last run strictly before ``dt``.

        Args:
            dt: a timezone-aware time.

        Returns:
            The run time, in UTC.
        """
        return self._iterate(dt, reverse=True)

    def period_at(self, dt: datetime) -> timedelta:
        """Return the gap between the run at or before ``dt`` and the run after it.

        This is the period in force at ``dt`` (schedules such as ``0 2,20 * * *`` have more
        than one), which is what "missed by more than one period" is measured against.

        Args:
            dt: a timezone-aware time.

        Returns:
            The gap.
        """
        following = self.next_after(dt)
        return following - self.previous_before(following)

    def _iterate(self, dt: datetime, *, reverse: bool) -> datetime:
        if dt.tzinfo is None:
            raise ValueError("schedule times must be timezone-aware")
        try:
            return next(CronSim(self.cron, dt.astimezone(timezone.utc), reverse=reverse))
        except StopIteration:
            raise ScheduleError(
                f'schedule "{self.expr}" has no run within 50 years of {dt.isoformat()}'
            ) from None


def parse(expr: str) -> Schedule | None:
    """Check a schedule expression.

    Args:
        expr: five cron fields or a macro such as ``@daily``; empty disables scheduling.

    Returns:
        The schedule, or None when ``expr`` is empty (or only blanks).

    Raises:
        ScheduleError: naming the bad part.
    """
    if not isinstance(expr, str):
        raise ScheduleError(f"schedule must be text, not {type(expr).__name__}")
    for position, ch in enumerate(expr):
        if ch != "\t" and (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029"):
            raise ScheduleError(
                f"schedule has a control character U+{ord(ch):04X} at position {position}; "
                f"a schedule is one line: {_SYNTAX}"
            )
    text = expr.strip()
    if not text:
        return None
    if text.startswith("@"):
        return _macro(text)
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(
            f'schedule "{text}" has {len(fields)} field{"s" if len(fields) != 1 else ""}; '
            f"it takes {_SYNTAX} (no seconds field and no command)"
        )
    for spec, field in zip(_FIELDS, fields, strict=True):
        spec.check(text, field)
    cron = " ".join(fields)
    _check_runs(cron, cron)
    return Schedule(expr=cron, cron=cron)


def cron_entry(expr: str, unit_name: str, charm_dir: str | os.PathLike[str]) -> str:
    """Return the full content of the ``/etc/cron.d`` file that runs scheduled backups.

    ``juju-exec`` runs the command in the unit's charm directory and hook context, so
    ``./dispatch`` with ``JUJU_DISPATCH_PATH`` set emits the charm's ``scheduled-backup``
    event.

    Args:
        expr: the schedule (must not be empty: remove the file to disable scheduling).
        unit_name: the unit to run the event on, e.g. ``juju-backups/0``.
        charm_dir: the unit's charm directory, recorded in the file's header.

    Returns:
        The file content, ending with a newline (cron ignores a last line without one).

    Raises:
        ScheduleError: for an empty or invalid schedule, unit name or charm directory.
    """
    schedule = parse(expr)
    if schedule is None:
        raise ScheduleError("schedule is empty: there is nothing to install; remove the entry")
    if not isinstance(unit_name, str) or not _UNIT_RE.fullmatch(unit_name):
        raise ScheduleError(f"{unit_name!r} is not a Juju unit name (like juju-backups/0)")
    directory = os.fspath(charm_dir)
    if not os.path.isabs(directory) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in directory):
        raise ScheduleError(
            f"charm directory {directory!r} must be an absolute path without control characters"
        )
    return (
        f"# Scheduled backups of the juju-backups charm, unit {unit_name} ({directory}).\n"
        "# The charm rewrites or removes this file as its configuration and leadership\n"
        "# change: edit the charm's `schedule` option instead of this file.\n"
        f"# schedule: {schedule.expr}\n"
        "SHELL=/bin/sh\n"
        f"PATH={CRON_PATH}\n"
        f'{schedule.cron} root juju-exec {unit_name} "{DISPATCH}"\n'
    )


def install(path: Path, content: str) -> None:
    """Write a cron file atomically, mode 0644 (cron skips files others can write).

    The temporary file's name has dots in it, which cron ignores, so a half-written file
    never runs.

    Args:
        path: the file, e.g. ``/etc/cron.d/juju-backups``.
        content: its full content (see :func:`cron_entry`).

    Raises:
        ValueError: if cron would ignore the file (its name) or the last line (no newline).
    """
    if not _CRON_FILE_RE.fullmatch(path.name):
        raise ValueError(
            f"cron ignores files named {path.name!r}: use letters, digits, '-' and '_' only"
        )
    if not content.endswith("\n"):
        raise ValueError("cron ignores a last line that does not end with a newline")
    # The temporary file is hidden and has dots in its name: cron never runs it.
    write_atomically(path, content.encode(), mode=0o644)


def remove(path: Path) -> bool:
    """Delete a cron file; nothing happens if it is not there.

    Args:
        path: the file.

    Returns:
        True if a file was deleted.
    """
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _macro(text: str) -> Schedule:
    word, *rest = text.split()
    name = word.lower()
    if rest:
        raise ScheduleError(
            f'schedule "{text}": a macro stands alone, "{word}" cannot be followed by '
            f'"{" ".join(rest)}"'
        )
    if name in MACROS:
        _check_runs(name, MACROS[name])
        return Schedule(expr=name, cron=MACROS[name])
    if name == "@reboot":
        raise ScheduleError(
            f'schedule "{text}" runs only when the machine boots, not on a schedule; use {_SYNTAX}'
        )
    raise ScheduleError(f'schedule "{text}": unknown macro "{word}"; use {_SYNTAX}')


class _Field(NamedTuple):
    """One of the five fields: its range and its symbolic names (index + offset = value)."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    offset: int = 0

    def check(self, expr: str, text: str) -> None:
        if not _FIELD_CHARS.fullmatch(text):
            char = _FIELD_BAD_CHAR.search(text)
            raise self._bad(expr, text, f'"{char[0] if char else text}" is not allowed')
        for item in text.split(","):
            base, slash, step = item.partition("/")
            if not base:
                problem = f'"{item}" is empty' if item else "an empty item in a list"
                raise self._bad(expr, text, problem)
            if slash and (not (step.isascii() and step.isdigit()) or int(step) == 0):
                raise self._bad(expr, text, f'step "/{step}" must be a whole number above 0')
            # Debian cron refuses "5/10", cronsim reads it as "5,15,25,...": refuse it here.
            if slash and base != "*" and "-" not in base:
                where = f'"{item}": ' if item != text else ""
                problem = f'{where}a step applies to "*" or a range ({base}-{self.high}/{step})'
                raise self._bad(expr, text, problem)
            if base != "*":
                first, dash, last = base.partition("-")
                start = self._value(expr, text, first)
                if dash and self._value(expr, text, last) < start:
                    raise self._bad(expr, text, f'range "{base}" runs backwards')

    def _value(self, expr: str, text: str, token: str) -> int:
        if token.isascii() and token.isdigit():
            number = int(token)
            if not self.low <= number <= self.high:
                raise self._bad(expr, text, f"{number} is out of range {self.low}-{self.high}")
            return number
        if token.upper() in self.names:
            return self.names.index(token.upper()) + self.offset
        hint = f" or one of {', '.join(n.lower() for n in self.names)}" if self.names else ""
        raise self._bad(
            expr, text, f'"{token}" is not a number from {self.low} to {self.high}{hint}'
        )

    def _bad(self, expr: str, text: str, problem: str) -> ScheduleError:
        return ScheduleError(f'schedule "{expr}": {self.name} field "{text}": {problem}')


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day-of-week", 0, 7, _DAYS),
)


def _check_runs(expr: str, cron: str) -> None:
    try:
        next(CronSim(cron, _REFERENCE))
    except CronSimError as e:
        # Field syntax is checked before this, so what is left is a day that never comes.
        raise ScheduleError(
            f'schedule "{expr}" never runs ({e}): no month it names has that day'
        ) from None
    except StopIteration:
        raise ScheduleError(f'schedule "{expr}" never runs') from None
