"""Schedules: parsing and refusal, runs, the cron.d entry, installing and removing it."""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import schedule
from schedule import Schedule, ScheduleError

UTC = timezone.utc
UNIT = "juju-backups/0"
CHARM_DIR = "/var/lib/juju/agents/unit-juju-backups-0/charm"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- parse: what is accepted ------------------------------------------------------------


@pytest.mark.parametrize("expr", ["", "   ", "\t", " \t "])
def test_empty_disables(expr: str) -> None:
    assert schedule.parse(expr) is None


@pytest.mark.parametrize(
    ("macro", "cron"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macros_map_to_five_fields(macro: str, cron: str) -> None:
    parsed = schedule.parse(macro)
    assert parsed == Schedule(expr=macro, cron=cron)


def test_macro_is_case_insensitive_and_normalised() -> None:
    parsed = schedule.parse("  @Daily ")
    assert parsed == Schedule(expr="@daily", cron="0 0 * * *")


@pytest.mark.parametrize(
    "expr",
    [
        "0 2 * * *",
        "*/15 * * * *",
        "0 0-23/6 * * *",
        "30 1 1,15 * *",
        "0 3 * * mon-fri",
        "0 3 * * MON,wed,Fri",
        "0 0 1 jan,jul *",
        "0 0 * * 7",
        "0 0 * * 0-7",
        "00 05 * * *",
        "0 0 29 2 *",
        "0 0 */90 * *",
    ],
)
def test_valid_expressions(expr: str) -> None:
    parsed = schedule.parse(expr)
    assert parsed is not None
    assert parsed.expr == expr
    assert parsed.cron == expr


def test_whitespace_is_normalised() -> None:
    parsed = schedule.parse("  0\t2  *  * *  ")
    assert parsed == Schedule(expr="0 2 * * *", cron="0 2 * * *")


# --- parse: what is refused, and the message names it -----------------------------------


@pytest.mark.parametrize(
    ("expr", "named"),
    [
        ("@reboot", "@reboot"),
        ("@REBOOT", "boots"),
        ("@every", '"@every"'),
        ("@daily 0", 'cannot be followed by "0"'),
        ("0 0 * *", "4 fields"),
        ("0 0 * * * *", "6 fields"),
        ("0 0 * * * /bin/rm -rf /", "no command"),
        ("daily", "1 field"),
        ("60 * * * *", 'minute field "60": 60 is out of range 0-59'),
        ("0 24 * * *", 'hour field "24": 24 is out of range 0-23'),
        ("0 0 0 * *", 'day-of-month field "0": 0 is out of range 1-31'),
        ("0 0 32 * *", "32 is out of range 1-31"),
        ("0 0 * 13 *", 'month field "13": 13 is out of range 1-12'),
        ("0 0 * 0 *", "0 is out of range 1-12"),
        ("0 0 * * 8", 'day-of-week field "8": 8 is out of range 0-7'),
        ("0 0 * * sun-sat-mon", '"sat-mon"'),
        ("0 0 * foo *", '"foo" is not a number from 1 to 12 or one of jan'),
        ("0 0 * * funday", '"funday"'),
        ("0 0 * * jan", 'day-of-week field "jan"'),
        ("0 0 mon * *", 'day-of-month field "mon"'),
        ("0 0 L * *", 'day-of-month field "L"'),
        ("0 0 LW * *", '"LW"'),
        ("0 0 * * 5L", '"5L"'),
        ("0 0 * * 5#2", '"#" is not allowed'),
        ("0 0 ? * *", '"?" is not allowed'),
        ("0 0 * * 1;reboot", '";" is not allowed'),
        ('0 0 * * "1"', '""" is not allowed'),
        ("5/10 * * * *", 'minute field "5/10": a step applies to "*" or a range (5-59/10)'),
        ("1,5/10 * * * *", '"5/10": a step applies'),
        ("*/0 * * * *", 'step "/0" must be a whole number above 0'),
        ("*/x * * * *", 'step "/x"'),
        ("*/ * * * *", 'step "/"'),
        ("/5 * * * *", '"/5" is empty'),
        ("1,,2 * * * *", "an empty item in a list"),
        ("1, * * * *", "an empty item in a list"),
        ("5-1 * * * *", 'range "5-1" runs backwards'),
        ("*-5 * * * *", '"*"'),
        ("1-2-3 * * * *", '"2-3"'),
        ("0 0 30 2 *", "never runs"),
        ("0 0 31 4,6 *", "never runs"),
        ("\u0661 * * * *", 'minute field "\u0661"'),
    ],
)
def test_invalid_expressions_name_the_bad_part(expr: str, named: str) -> None:
    with pytest.raises(ScheduleError) as info:
        schedule.parse(expr)
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("0 0 * * *\n* * * * * root rm -rf /", "U+000A"),
        ("0 0 * * *\r", "U+000D"),
        ("0 0 * * *\n", "U+000A"),
        ("@daily\n", "U+000A"),
        ("0 0 *\x00 * *", "U+0000"),
        ("0 0 * * *\x85", "U+0085"),
        ("0 0 * * *\u2028", "U+2028"),
    ],
)
def test_control_characters_are_refused_with_their_position(expr: str, code: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(f"control character {code} at position")):
        schedule.parse(expr)


def test_non_text_is_refused() -> None:
    with pytest.raises(ScheduleError, match="must be text"):
        schedule.parse(5)  # type: ignore[arg-type]


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)


# --- runs ---------------------------------------------------------------------------------


def daily() -> Schedule:
    parsed = schedule.parse("@daily")
    assert parsed is not None
    return parsed


def test_next_after_is_strictly_after() -> None:
    assert daily().next_after(at(2026, 12, 4, 15, 19)) == at(2026, 12, 5)
    assert daily().next_after(at(2026, 12, 5)) == at(2026, 12, 6)
    assert daily().next_after(at(2026, 12, 4, 23, 59, 59, 999999)) == at(2026, 12, 5)


def test_previous_before_is_strictly_before() -> None:
    assert daily().previous_before(at(2026, 12, 4, 15, 19)) == at(2026, 12, 4)
    assert daily().previous_before(at(2026, 12, 5)) == at(2026, 12, 4)
    assert daily().previous_before(at(2026, 12, 5, 0, 0, 0, 1)) == at(2026, 12, 5)


def test_runs_are_returned_in_utc_for_any_input_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    # 01:30 at +02:00 is 23:30 UTC the day before: the next UTC midnight is an hour later.
    result = daily().next_after(datetime(2026, 12, 5, 1, 30, tzinfo=plus_two))
    assert result == at(2026, 12, 5)
    assert result.utcoffset() == timedelta(0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        daily().next_after(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        daily().previous_before(datetime(2026, 1, 1))


def test_day_of_month_or_day_of_week_when_both_given() -> None:
    # Debian cron: both restricted -> either matches; 2026-12-01 is a Tuesday.
    parsed = schedule.parse("0 0 15 * mon")
    assert parsed is not None
    assert parsed.next_after(at(2026, 12, 1)) == at(2026, 12, 7)
    assert parsed.next_after(at(2026, 12, 14, 1)) == at(2026, 12, 15)


def test_sunday_as_seven() -> None:
    parsed = schedule.parse("0 0 * * 7")
    assert parsed is not None
    assert parsed.next_after(at(2026, 12, 1)) == at(2026, 12, 6)  # a Sunday


@pytest.mark.parametrize(
    ("expr", "dt", "period"),
    [
        ("@daily", at(2026, 12, 4, 15, 19), timedelta(days=1)),
        ("@hourly", at(2026, 12, 4, 15, 19), timedelta(hours=1)),
        ("*/15 * * * *", at(2026, 12, 4, 15, 19), timedelta(minutes=15)),
        ("@weekly", at(2026, 12, 4, 15, 19), timedelta(days=7)),
        # Uneven schedules: the period in force at dt.
        ("0 2,20 * * *", at(2026, 12, 4, 12), timedelta(hours=18)),
        ("0 2,20 * * *", at(2026, 12, 4, 21), timedelta(hours=6)),
        ("@monthly", at(2027, 2, 10), timedelta(days=28)),
        ("@monthly", at(2027, 1, 10), timedelta(days=31)),
    ],
)
def test_period_at(expr: str, dt: datetime, period: timedelta) -> None:
    parsed = schedule.parse(expr)
    assert parsed is not None
    assert parsed.period_at(dt) == period


def test_period_at_a_run_is_the_period_that_starts_there() -> None:
    parsed = schedule.parse("0 2,20 * * *")
    assert parsed is not None
    assert parsed.period_at(at(2026, 12, 4, 2)) == timedelta(hours=18)
    assert parsed.period_at(at(2026, 12, 4, 20)) == timedelta(hours=6)


# --- the cron.d entry ---------------------------------------------------------------------


def test_cron_entry_exact_content() -> None:
    assert schedule.cron_entry("@daily", UNIT, CHARM_DIR) == (
        "# Scheduled backups of the juju-backups charm, unit juju-backups/0"
        " (/var/lib/juju/agents/unit-juju-backups-0/charm).\n"
        "# The charm rewrites or removes this file as its configuration and leadership\n"
        "# change: edit the charm's `schedule` option instead of this file.\n"
        "# schedule: @daily\n"
        "SHELL=/bin/sh\n"
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        '0 0 * * * root juju-exec juju-backups/0 "JUJU_DISPATCH_PATH=hooks/scheduled-backup'
        ' ./dispatch"\n'
    )


def test_cron_entry_uses_the_normalised_five_fields() -> None:
    content = schedule.cron_entry(" 30  2 *\t* mon-fri ", "backups-b2/13", Path(CHARM_DIR))
    lines = content.splitlines()
    assert lines[-1] == (
        '30 2 * * mon-fri root juju-exec backups-b2/13 "JUJU_DISPATCH_PATH=hooks/scheduled-backup'
        ' ./dispatch"'
    )
    assert "# schedule: 30 2 * * mon-fri" in lines


def test_cron_entry_has_exactly_one_job_line() -> None:
    content = schedule.cron_entry("@hourly", UNIT, CHARM_DIR)
    assert content.endswith("\n")
    active = [ln for ln in content.splitlines() if ln and not ln.startswith("#")]
    assert active == [
        "SHELL=/bin/sh",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        '0 * * * * root juju-exec juju-backups/0 "JUJU_DISPATCH_PATH=hooks/scheduled-backup'
        ' ./dispatch"',
    ]
    # cron turns % in a command into a newline; nothing in the entry may contain one.
    assert "%" not in content


@pytest.mark.parametrize("expr", ["", "  "])
def test_cron_entry_refuses_an_empty_schedule(expr: str) -> None:
    with pytest.raises(ScheduleError, match="empty"):
        schedule.cron_entry(expr, UNIT, CHARM_DIR)


@pytest.mark.parametrize(
    "expr", ["@reboot", "0 0 * * *\n* * * * * root evil", "0 0 * * * root evil"]
)
def test_cron_entry_refuses_a_bad_schedule(expr: str) -> None:
    with pytest.raises(ScheduleError):
        schedule.cron_entry(expr, UNIT, CHARM_DIR)


@pytest.mark.parametrize(
    "unit",
    [
        "juju-backups",
        "juju-backups/",
        "juju-backups/x",
        "Juju-backups/0",
        "0backups/0",
        "backups-/0",
        "backups-0/0",
        "backups-2/1",
        "juju-backups/0\n* * * * * root evil",
        'juju-backups/0" ; rm -rf / ; "',
        "juju-backups/0 other/1",
        "",
    ],
)
def test_cron_entry_refuses_a_bad_unit_name(unit: str) -> None:
    with pytest.raises(ScheduleError, match="not a Juju unit name"):
        schedule.cron_entry("@daily", unit, CHARM_DIR)


@pytest.mark.parametrize("unit", ["a/0", "postgresql-k8s/12", "app2/3", "my-app-b2/100"])
def test_cron_entry_accepts_juju_unit_names(unit: str) -> None:
    content = schedule.cron_entry("@daily", unit, CHARM_DIR)
    assert f' root juju-exec {unit} "JUJU_DISPATCH_PATH=' in content


@pytest.mark.parametrize("charm_dir", ["charm", "./charm", "/var/lib/juju\n* * * * * root evil"])
def test_cron_entry_refuses_a_bad_charm_dir(charm_dir: str) -> None:
    with pytest.raises(ScheduleError, match="charm directory"):
        schedule.cron_entry("@daily", UNIT, charm_dir)


# --- install / remove -----------------------------------------------------------------------


def test_install_writes_the_content_with_mode_0644(tmp_path: Path) -> None:
    path = tmp_path / "juju-backups"
    content = schedule.cron_entry("@daily", UNIT, CHARM_DIR)
    old_umask = os.umask(0o077)
    try:
        schedule.install(path, content)
    finally:
        os.umask(old_umask)
    assert path.read_text() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["juju-backups"]


def test_install_replaces_an_existing_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "juju-backups"
    schedule.install(path, schedule.cron_entry("@daily", UNIT, CHARM_DIR))
    before = path.stat().st_ino
    new = schedule.cron_entry("@hourly", UNIT, CHARM_DIR)
    schedule.install(path, new)
    assert path.read_text() == new
    # A rename, not a rewrite in place: cron never reads a half-written file.
    assert path.stat().st_ino != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["juju-backups"]


def test_install_leaves_no_temporary_file_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "juju-backups"
    path.write_text("# old\n")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(schedule.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk on fire"):
        schedule.install(path, schedule.cron_entry("@daily", UNIT, CHARM_DIR))
    assert path.read_text() == "# old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["juju-backups"]


@pytest.mark.parametrize("name", ["juju-backups.cron", "juju backups", "juju~"])
def test_install_refuses_names_cron_ignores(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="cron ignores files named"):
        schedule.install(tmp_path / name, "# x\n")
    assert list(tmp_path.iterdir()) == []


def test_install_refuses_content_without_final_newline(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="newline"):
        schedule.install(tmp_path / "juju-backups", "0 0 * * * root true")
    assert list(tmp_path.iterdir()) == []


def test_remove_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "juju-backups"
    schedule.install(path, schedule.cron_entry("@daily", UNIT, CHARM_DIR))
    assert schedule.remove(path) is True
    assert not path.exists()
    assert schedule.remove(path) is False
    assert schedule.remove(tmp_path / "never-there") is False
