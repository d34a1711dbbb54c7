"""Scheduled backups, notes templates and retention, through the charm with ops[testing].

The cron entry, the notes and the retention are the charm's real code; only the backup service
is replaced (tests/unit/charm_fakes.py). tests/functional/test_schedule_sim.py runs the same
path against the simulated controller.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ops import testing
from scenario.state import _Event  # pyright: ignore[reportPrivateUsage]

import lock
import schedule
import service
from catalogue import Catalogue
from charm import LOCK_NAME, JujuBackupsCharm
from tests.unit.charm_fakes import (
    APP,
    CONTROLLER_UUID,
    CONTROLLER_VERSION,
    UTC,
    Behaviour,
    add_archive,
    charm_context,
    cron_file,
    install_fake,
    ready_state,
    storage_root,
)

DISPATCH = '"JUJU_DISPATCH_PATH=hooks/scheduled-backup ./dispatch"'


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Behaviour:
    return install_fake(monkeypatch, tmp_path)


def scheduled_backup() -> Any:
    """The event the cron entry dispatches (JUJU_DISPATCH_PATH=hooks/scheduled-backup).

    `ctx.on.custom` only reaches events of objects the charm holds, not of `charm.on` itself;
    an event named after the hook is what Juju's dispatch of hooks/scheduled-backup is.
    """
    return _Event("scheduled-backup")


def hook(ctx: testing.Context[JujuBackupsCharm], name: str) -> Any:
    """A Juju event; ops[testing] has no leader-settings-changed (deprecated, still sent)."""
    if name == "leader_settings_changed":
        return _Event("leader-settings-changed")
    return getattr(ctx.on, name)()


def run_scheduled(ctx: testing.Context[JujuBackupsCharm], state: testing.State) -> testing.State:
    return ctx.run(scheduled_backup(), state)


def active_message(state: testing.State) -> str:
    assert isinstance(state.unit_status, testing.ActiveStatus), state.unit_status
    return state.unit_status.message


def stored_scheduling(state: testing.State) -> dict[str, Any] | None:
    (stored,) = (s for s in state.stored_states if s.owner_path == "JujuBackupsCharm")
    return stored.content.get("scheduling")


def expected_entry(expr_line: str, comment: str, unit: str, charm_dir: Path) -> str:
    return (
        f"# Scheduled backups of the juju-backups charm, unit {unit} ({charm_dir}).\n"
        "# The charm rewrites or removes this file as its configuration and leadership\n"
        "# change: edit the charm's `schedule` option instead of this file.\n"
        f"# schedule: {comment}\n"
        "SHELL=/bin/sh\n"
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        f"{expr_line} root juju-exec {unit} {DISPATCH}\n"
    )


# -- the cron entry ---------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["config_changed", "leader_elected", "start", "upgrade_charm"])
def test_leader_writes_the_cron_entry(fake: Behaviour, tmp_path: Path, event: str) -> None:
    (tmp_path / "charm").mkdir()
    ctx = charm_context(charm_root=tmp_path / "charm")

    ctx.run(getattr(ctx.on, event)(), ready_state(schedule="30 2 * * *"))

    path = cron_file()
    assert path.read_text() == expected_entry(
        "30 2 * * *", "30 2 * * *", "juju-backups/0", tmp_path / "charm"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # cron skips files others can write
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left


def test_default_schedule_is_daily_at_midnight(fake: Behaviour, tmp_path: Path) -> None:
    (tmp_path / "charm").mkdir()
    ctx = charm_context(charm_root=tmp_path / "charm")

    ctx.run(ctx.on.config_changed(), ready_state())

    assert cron_file().read_text() == expected_entry(
        "0 0 * * *", "@daily", "juju-backups/0", tmp_path / "charm"
    )


def test_schedule_change_rewrites_and_empty_removes(fake: Behaviour) -> None:
    ctx = charm_context()
    first = ctx.run(ctx.on.config_changed(), ready_state(schedule="@hourly"))
    assert cron_file().read_text().splitlines()[-1].startswith("0 * * * * root juju-exec")

    changed = dataclasses.replace(first, config={**first.config, "schedule": "15 3 * * SUN"})
    second = ctx.run(ctx.on.config_changed(), changed)
    assert cron_file().read_text().splitlines()[-1].startswith("15 3 * * SUN root juju-exec")

    off = dataclasses.replace(second, config={**second.config, "schedule": ""})
    out = ctx.run(ctx.on.config_changed(), off)
    assert not cron_file().exists()
    assert active_message(out).endswith("; scheduled backups off (schedule is empty)")


@pytest.mark.parametrize("event", ["config_changed", "leader_settings_changed", "update_status"])
def test_non_leader_has_no_entry(fake: Behaviour, event: str) -> None:
    ctx = charm_context()
    path = cron_file()
    path.write_text("left over from when this unit led\n")

    out = ctx.run(hook(ctx, event), ready_state(leader=False))

    assert not path.exists()
    # Only the leader schedules: a follower's status says nothing of the schedule.
    assert "next backup" not in active_message(out)


@pytest.mark.parametrize("event", ["stop", "remove"])
def test_stop_and_remove_delete_the_entry(fake: Behaviour, event: str) -> None:
    ctx = charm_context()
    state = ctx.run(ctx.on.config_changed(), ready_state())
    assert cron_file().exists()

    ctx.run(getattr(ctx.on, event)(), state)

    assert not cron_file().exists()


def test_leadership_moves_the_entry(
    fake: Behaviour, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two units share nothing but the application; each writes its own machine's cron.d.
    dirs = {unit: tmp_path / f"machine-{unit}" / "cron.d" for unit in (0, 1)}
    for directory in dirs.values():
        directory.mkdir(parents=True)
    ctx = {unit: charm_context(unit_id=unit) for unit in (0, 1)}
    unit0 = ready_state(leader=True)
    unit1 = ready_state(leader=False)

    monkeypatch.setattr(JujuBackupsCharm, "cron_dir", dirs[0])
    unit0 = ctx[0].run(ctx[0].on.leader_elected(), unit0)
    monkeypatch.setattr(JujuBackupsCharm, "cron_dir", dirs[1])
    unit1 = ctx[1].run(ctx[1].on.config_changed(), unit1)
    assert [p.name for p in dirs[0].iterdir()] == [f"juju-backups-{APP}"]
    assert list(dirs[1].iterdir()) == []

    # Unit 1 is elected; unit 0 learns it is a follower now.
    monkeypatch.setattr(JujuBackupsCharm, "cron_dir", dirs[1])
    ctx[1].run(ctx[1].on.leader_elected(), dataclasses.replace(unit1, leader=True))
    monkeypatch.setattr(JujuBackupsCharm, "cron_dir", dirs[0])
    ctx[0].run(hook(ctx[0], "leader_settings_changed"), dataclasses.replace(unit0, leader=False))

    assert list(dirs[0].iterdir()) == []
    entry = (dirs[1] / f"juju-backups-{APP}").read_text()
    assert f"root juju-exec juju-backups/1 {DISPATCH}" in entry


def test_a_stale_entry_on_a_follower_runs_no_backup(
    fake: Behaviour, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = charm_context()
    cron_file().write_text("written while this unit led\n")

    with caplog.at_level(logging.INFO):
        run_scheduled(ctx, ready_state(leader=False))

    assert fake.calls == []
    assert not cron_file().exists()
    assert "scheduled backup skipped: only the leader takes scheduled backups" in caplog.text


# -- invalid schedules and templates ---------------------------------------------------------

BAD_SCHEDULES = [
    ("61 * * * *", 'schedule "61 * * * *": minute field "61": 61 is out of range 0-59'),
    ("* * * *", 'schedule "* * * *" has 4 fields; it takes five fields'),
    ("0 0 * * * /bin/sh -c true", "has 8 fields; it takes five fields"),
    ("0 25 * * *", 'hour field "25": 25 is out of range 0-23'),
    ("0 0 30 2 *", 'schedule "0 0 30 2 *" never runs'),
    ("5/10 * * * *", 'a step applies to "*" or a range'),
    ("*/0 * * * *", 'step "/0" must be a whole number above 0'),
    ("0 0 * jan-dex *", 'month field "jan-dex": "dex" is not a number from 1 to 12'),
    ("@reboot", "runs only when the machine boots"),
    ("@fortnightly", 'unknown macro "@fortnightly"'),
    ("0 0 * * *\n* * * * *", "control character U+000A"),
]


@pytest.mark.parametrize(("expr", "problem"), BAD_SCHEDULES, ids=[e for e, _ in BAD_SCHEDULES])
def test_bad_schedule_blocks_naming_the_problem(fake: Behaviour, expr: str, problem: str) -> None:
    ctx = charm_context()
    good = ctx.run(ctx.on.config_changed(), ready_state(schedule="30 2 * * *"))
    before = cron_file().read_text()

    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(good, config={**good.config, "schedule": expr}),
    )

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("invalid config: option schedule: ")
    assert problem in out.unit_status.message
    # The entry stays as it was: its runs fail and say why until the option is fixed.
    assert cron_file().read_text() == before


BAD_TEMPLATES = [
    ("{foo} backup", "unknown placeholder {foo}"),
    ("{unit.name}", "attribute or index access in {unit.name}"),
    ("{app[0]}", "attribute or index access in {app[0]}"),
    ("{timestamp:%Y}", "format spec ':%Y' in {timestamp:%Y} is not allowed"),
    ("{app!r}", "conversion '!r' in {app!r} is not allowed"),
    ("{trigger backup", "the '{' at position 0 is never closed"),
    ("backup }", "the '}' at position 7 has no opening '{'"),
    ("{}", "an empty placeholder {}"),
    ("two\nlines", "control character U+000A at position 3"),
    ("x" * 513, "notes template is 513 characters long; the limit is 512"),
]


@pytest.mark.parametrize(
    ("template", "problem"), BAD_TEMPLATES, ids=[t[:20] for t, _ in BAD_TEMPLATES]
)
def test_bad_notes_template_blocks_naming_the_problem(
    fake: Behaviour, template: str, problem: str
) -> None:
    ctx = charm_context()

    out = ctx.run(ctx.on.config_changed(), ready_state(notes_template=template))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("invalid config: option notes-template: ")
    assert problem in out.unit_status.message
    assert fake.calls == []


@pytest.mark.parametrize("option", ["retention-count", "retention-days"])
def test_negative_retention_blocks(fake: Behaviour, option: str) -> None:
    ctx = charm_context()

    state = ready_state()
    state = dataclasses.replace(state, config={**state.config, option: -1})

    out = ctx.run(ctx.on.config_changed(), state)

    assert out.unit_status == testing.BlockedStatus(
        f"invalid config: option {option}: -1 is negative: use 0 for no limit, or a positive "
        "number"
    )


def test_scheduled_run_with_invalid_config_is_a_recorded_failure(fake: Behaviour) -> None:
    ctx = charm_context()

    out = run_scheduled(ctx, ready_state(notes_template="{nope}"))

    assert fake.calls == []
    scheduling = stored_scheduling(out)
    assert scheduling is not None
    (failure,) = scheduling["failures"]
    assert failure["reason"].startswith("invalid config: option notes-template: ")


# -- the scheduled backup and its notes ------------------------------------------------------


def test_scheduled_backup_uses_the_template(fake: Behaviour) -> None:
    ctx = charm_context()
    before = datetime.now(UTC).replace(microsecond=0)

    out = run_scheduled(ctx, ready_state())

    (call,) = fake.calls
    assert call.trigger == "scheduled"
    match = re.fullmatch(
        rf"scheduled backup of {CONTROLLER_UUID} by juju-backups/0 at "
        r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)",
        call.notes,
    )
    assert match is not None, call.notes
    stamp = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC)
    (entry,) = Catalogue(storage_root(ctx, out)).list()
    assert entry.trigger == "scheduled"
    assert entry.metadata["notes"] == call.notes
    assert active_message(out).startswith(f"last backup {entry.id} at ")


def test_every_placeholder_is_filled_in(fake: Behaviour) -> None:
    ctx = charm_context()
    template = (
        "{trigger}|{unit}|{app}|{model}|{controller}|{juju-version}|{date}|{time}|{timestamp}"
        "|{{literal}}"
    )
    state = dataclasses.replace(
        ready_state(notes_template=template), model=testing.Model(name="backups-model")
    )

    run_scheduled(ctx, state)

    (call,) = fake.calls
    fields = call.notes.split("|")
    assert fields[:6] == [
        "scheduled",
        "juju-backups/0",
        "juju-backups",
        "backups-model",
        CONTROLLER_UUID,
        CONTROLLER_VERSION,
    ]
    date, time, timestamp, literal = fields[6:]
    assert timestamp == f"{date}T{time}Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", date)
    assert re.fullmatch(r"\d\d:\d\d:\d\d", time)
    assert literal == "{literal}"


def test_create_backup_action_uses_the_template_as_manual(fake: Behaviour) -> None:
    ctx = charm_context()

    ctx.run(ctx.on.action("create-backup"), ready_state(notes_template="{trigger} by {unit}"))

    (call,) = fake.calls
    assert (call.notes, call.trigger) == ("manual by juju-backups/0", "manual")


def test_notes_param_wins_over_the_template(fake: Behaviour) -> None:
    ctx = charm_context()

    ctx.run(
        ctx.on.action("create-backup", params={"notes": "before the upgrade\nto 3.6.28"}),
        ready_state(notes_template="{trigger} by {unit}"),
    )

    (call,) = fake.calls
    # One line: the notes travel in tables and relation data.
    assert call.notes == "before the upgrade to 3.6.28"


def test_scheduled_backup_is_skipped_while_another_runs(
    fake: Behaviour, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = charm_context()
    state = ready_state()
    root = storage_root(ctx, state)

    with lock.exclusive(root / LOCK_NAME, "create-backup (manual)"), caplog.at_level(logging.INFO):
        out = run_scheduled(ctx, state)

    assert "scheduled backup skipped: another backup operation is running" in caplog.text
    assert Catalogue(root).list() == []
    scheduling = stored_scheduling(out)
    assert scheduling is not None
    assert scheduling["failures"] == []  # skipped, not failed
    assert scheduling["last-run"]


def test_failed_scheduled_runs_are_kept_until_one_succeeds(fake: Behaviour) -> None:
    ctx = charm_context()
    fake.errors = [
        service.BackupFailedError("the controller could not create the backup: disk full"),
        service.DownloadFailedError("the download of backup x was cut short " + "x" * 200),
    ]

    first = run_scheduled(ctx, ready_state())
    message = active_message(first)
    assert re.search(
        r"; scheduled backup failed, last at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: the controller "
        r"could not create the backup: disk full; next backup ",
        message,
    ), message

    second = run_scheduled(ctx, first)
    message = active_message(second)
    assert "; 2 scheduled backups failed, last at " in message
    assert ": the download of backup x was cut short xxx" in message
    assert "...; next backup " in message  # the reason is cut; debug-log has all of it
    scheduling = stored_scheduling(second)
    assert scheduling is not None
    assert [f["reason"][:40] for f in scheduling["failures"]] == [
        "the controller could not create the back",
        "the download of backup x was cut short x",
    ]

    # Other backups do not clear them: the schedule is still failing.
    manual = ctx.run(ctx.on.action("create-backup"), second)
    assert "2 scheduled backups failed" in active_message(manual)

    third = run_scheduled(ctx, manual)
    assert "failed" not in active_message(third)
    assert stored_scheduling(third)["failures"] == []  # type: ignore[index]


def test_failure_the_operator_must_fix_blocks(fake: Behaviour) -> None:
    ctx = charm_context()
    fake.errors = [service.AccessDeniedError("the controller refused the login")]

    out = run_scheduled(ctx, ready_state())

    assert out.unit_status == testing.BlockedStatus("the controller refused the login")


# -- the schedule in the status --------------------------------------------------------------


def test_status_shows_the_next_run(fake: Behaviour) -> None:
    ctx = charm_context()
    parsed = schedule.parse("*/20 * * * *")
    assert parsed is not None
    before = parsed.next_after(datetime.now(UTC))

    out = ctx.run(ctx.on.config_changed(), ready_state(schedule="*/20 * * * *"))

    after = parsed.next_after(datetime.now(UTC))
    expected = {f"; next backup {t:%Y-%m-%d %H:%M:%S} UTC" for t in (before, after)}
    assert any(active_message(out).endswith(text) for text in expected), active_message(out)


def overdue_state(**times: datetime) -> testing.State:
    scheduling = {
        "expr": "@daily",
        "since": times["since"].isoformat(),
        "last-run": times["last_run"].isoformat() if "last_run" in times else "",
        "failures": [],
        "failed-count": 0,
    }
    return ready_state(stored={"scheduling": scheduling})


def test_a_run_missed_by_more_than_a_period_is_overdue(fake: Behaviour) -> None:
    ctx = charm_context()
    since = datetime.now(UTC) - timedelta(days=3)

    out = ctx.run(ctx.on.update_status(), overdue_state(since=since))

    due = (since + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert f"; scheduled backup overdue (due {due:%Y-%m-%d} 00:00:00 UTC); next backup " in (
        active_message(out)
    )


@pytest.mark.parametrize(
    "times",
    [
        {"since": timedelta(hours=-20)},  # the first run may still be to come
        {"since": timedelta(days=-30), "last_run": timedelta(hours=-23)},  # ran at its time
    ],
)
def test_runs_within_a_period_are_not_overdue(
    fake: Behaviour, times: dict[str, timedelta]
) -> None:
    ctx = charm_context()
    now = datetime.now(UTC)

    out = ctx.run(ctx.on.update_status(), overdue_state(**{k: now + v for k, v in times.items()}))

    assert "overdue" not in active_message(out)


def test_a_run_that_failed_is_not_a_missed_run(fake: Behaviour) -> None:
    ctx = charm_context()
    fake.errors = [service.BackupFailedError("the controller could not create the backup")]
    state = overdue_state(since=datetime.now(UTC) - timedelta(days=3))

    out = run_scheduled(ctx, state)

    message = active_message(out)
    assert "overdue" not in message
    assert "scheduled backup failed" in message


def test_missing_cron_directory_blocks(
    fake: Behaviour, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JujuBackupsCharm, "cron_dir", tmp_path / "no-cron-here")
    ctx = charm_context()

    out = ctx.run(ctx.on.config_changed(), ready_state())

    assert out.unit_status == testing.BlockedStatus(
        f"cannot schedule backups: {tmp_path / 'no-cron-here'} does not exist; install cron "
        "(apt install cron) or set schedule to an empty string"
    )
    unscheduled = dataclasses.replace(out, config={**out.config, "schedule": ""})
    assert isinstance(
        ctx.run(ctx.on.config_changed(), unscheduled).unit_status, testing.ActiveStatus
    )


# -- retention ---------------------------------------------------------------------------------


def test_retention_after_a_backup_keeps_the_configured_count(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state(retention_count=2)
    root = storage_root(ctx, state)
    now = datetime.now(UTC)
    add_archive(root, "juju-backup-old-1.tar.gz", now - timedelta(days=3))
    add_archive(root, "juju-backup-old-2.tar.gz", now - timedelta(days=2))
    add_archive(root, "other-app-1.tar.gz", now - timedelta(days=9), application="elsewhere")

    out = run_scheduled(ctx, state)

    ids = [e.id for e in Catalogue(root).list()]
    assert len(ids) == 3
    assert ids[1:] == ["juju-backup-old-2.tar.gz", "other-app-1.tar.gz"]
    assert ids[0].startswith("juju-backup-2")  # the new one
    assert not (root / "juju-backup-old-1.tar.gz").exists()
    assert active_message(out).startswith(f"last backup {ids[0]} at ")


def test_retention_by_age_never_removes_the_newest(
    fake: Behaviour, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = charm_context()
    state = ready_state(retention_count=0, retention_days=7)
    root = storage_root(ctx, state)
    now = datetime.now(UTC)
    for days in (30, 20, 10):
        add_archive(root, f"juju-backup-{days}.tar.gz", now - timedelta(days=days))

    with caplog.at_level(logging.INFO):
        ctx.run(ctx.on.config_changed(), state)

    assert [e.id for e in Catalogue(root).list()] == ["juju-backup-10.tar.gz"]
    assert "retention removed juju-backup-30.tar.gz (" in caplog.text
    assert "retention removed juju-backup-20.tar.gz (" in caplog.text


def test_config_change_applies_a_smaller_count(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state(retention_count=0)
    root = storage_root(ctx, state)
    now = datetime.now(UTC)
    for n in range(5):
        add_archive(root, f"juju-backup-{n}.tar.gz", now - timedelta(hours=5 - n))
    out = ctx.run(ctx.on.config_changed(), state)
    assert len(Catalogue(root).list()) == 5

    ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(out, config={**out.config, "retention-count": 3}),
    )

    assert [e.id for e in Catalogue(root).list()] == [
        "juju-backup-4.tar.gz",
        "juju-backup-3.tar.gz",
        "juju-backup-2.tar.gz",
    ]


def test_prune_backups_is_a_dry_run_by_default(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state(retention_count=1)
    root = storage_root(ctx, state)
    now = datetime.now(UTC)
    add_archive(root, "juju-backup-a.tar.gz", now - timedelta(days=2), size=2048)
    add_archive(root, "juju-backup-b.tar.gz", now - timedelta(days=1))

    ctx.run(ctx.on.action("prune-backups"), state)

    results = ctx.action_results
    assert results == {
        "dry-run": "true",
        "policy": "keep the newest archive of juju-backups; the newest is always kept, other "
        "applications' archives never touched",
        "summary": "1 of 2 archives would be removed (run prune-backups dry-run=false to "
        "remove them)",
        "archives": f"juju-backup-a.tar.gz ({now - timedelta(days=2):%Y-%m-%d %H:%M:%S} UTC, "
        "2.0 KiB)",
    }
    assert results is not None
    assert ctx.action_logs == [f"would remove {results['archives']}"]
    assert len(Catalogue(root).list()) == 2


def test_prune_backups_removes_when_asked(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state(retention_count=2)
    root = storage_root(ctx, state)
    now = datetime.now(UTC)
    for n in range(4):
        add_archive(root, f"juju-backup-{n}.tar.gz", now - timedelta(days=4 - n))

    ctx.run(ctx.on.action("prune-backups", params={"dry-run": False}), state)

    results = ctx.action_results
    assert results is not None
    assert results["dry-run"] == "false"
    assert results["summary"] == "removed 2 of 4 archives"
    assert [line.split()[0] for line in results["archives"].splitlines()] == [
        "juju-backup-0.tar.gz",
        "juju-backup-1.tar.gz",
    ]
    assert [e.id for e in Catalogue(root).list()] == [
        "juju-backup-3.tar.gz",
        "juju-backup-2.tar.gz",
    ]
    assert sorted(p.name for p in root.iterdir() if p.name != LOCK_NAME) == [
        "juju-backup-2.json",
        "juju-backup-2.tar.gz",
        "juju-backup-3.json",
        "juju-backup-3.tar.gz",
    ]


def test_prune_backups_with_nothing_to_prune(fake: Behaviour) -> None:
    ctx = charm_context()

    ctx.run(ctx.on.action("prune-backups"), ready_state(retention_count=0))

    assert ctx.action_results == {
        "dry-run": "true",
        "policy": "keep every archive of juju-backups (retention-count and retention-days are 0)",
        "summary": "0 of 0 archives would be removed",
    }


def test_prune_backups_refuses_while_another_operation_runs(fake: Behaviour) -> None:
    ctx = charm_context()
    state = ready_state()
    root = storage_root(ctx, state)

    with (
        lock.exclusive(root / LOCK_NAME, "create-backup (scheduled)"),
        pytest.raises(
            testing.ActionFailed, match=r"another operation is running on this unit: create-backup"
        ),
    ):
        ctx.run(ctx.on.action("prune-backups", params={"dry-run": False}), state)
