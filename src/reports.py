"""Action results for list-backups, show-backup, remove-backups and restore.

Juju's rules for action results: keys are lower-case letters, digits and hyphens, values are
strings, and dicts may nest. Backup ids (with dots and capitals) are never keys. A list of
backups is one string (a table, or JSON) so that it stays one readable value however many
backups there are. Nothing here may carry CA material: metadata passes through
``inventory.clean_metadata`` on the way out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from catalogue import Entry, format_time
from inventory import BackupDetails, BackupListing, BackupRow, Removal, clean_metadata
from restore import RestoreOutcome, RestorePlan
from service import human_size

TABLE = "table"
JSON = "json"
FORMATS = (TABLE, JSON)
NOTES_WIDTH = 48
FAILURES_SHOWN = 5
_KEY = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
RESULT_LIMIT = 4096


def listing_results(listing: BackupListing, output_format: str) -> dict[str, Any]:
    """The list-backups results.

    Args:
        listing: what the service found.
        output_format: ``table`` or ``json``.

    Returns:
        ``count``, ``on-unit``, ``on-controller``, ``controller`` (a sentence) and
        ``backups``: the table or the JSON document, as one string.
    """
    rows = listing.rows
    text = render_json(rows) if output_format == JSON else render_table(rows)
    return {
        "count": str(len(rows)),
        "on-unit": str(sum(1 for r in rows if r.archive is not None)),
        "on-controller": str(sum(1 for r in rows if r.on_controller)),
        "controller": listing.controller,
        "format": output_format,
        "backups": text,
    }


def render_table(rows: Sequence[BackupRow]) -> str:
    """A fixed-width table, one backup per line, newest first.

    Args:
        rows: the backups.

    Returns:
        The table (a header line, then the rows); a sentence when there are none.
    """
    if not rows:
        return "no backups"
    lines = [("ID", "STARTED (UTC)", "SIZE", "WHERE", "NOTES")]
    for row in rows:
        lines.append(
            (
                row.id,
                _time(row.started) if row.started else "-",
                human_size(row.size),
                ",".join(row.locations),
                _one_line(row.notes, NOTES_WIDTH) or "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(line[:4], widths, strict=True)), line[4]])
        for line in lines
    )


def render_json(rows: Sequence[BackupRow]) -> str:
    """The backups as a JSON array (for scripts).

    Args:
        rows: the backups.

    Returns:
        A JSON array of objects: id, started (RFC 3339 or null), size (bytes), notes,
        checksum, version, where (list), archive (the path on the unit, or null).
    """
    return json.dumps(
        [
            {
                "id": row.id,
                "started": format_time(row.started) if row.started else None,
                "size": row.size,
                "notes": row.notes,
                "checksum": row.checksum,
                "version": row.version,
                "where": list(row.locations),
                "archive": str(row.archive) if row.archive is not None else None,
            }
            for row in rows
        ],
        indent=2,
    )


def details_results(details: BackupDetails) -> dict[str, Any]:
    """The show-backup results.

    Args:
        details: what the service found.

    Returns:
        ``backup-id``, ``where``, ``controller``, ``metadata`` (every field the controller
        reported, never CA material) and, when the unit has a copy, ``unit`` with the
        archive's path and whether it still matches its checksum.
    """
    results: dict[str, Any] = {
        "backup-id": details.id,
        "where": ", ".join(details.locations),
        "controller": details.controller,
        "metadata": string_metadata(details.metadata),
    }
    local = details.local
    if local is not None:
        intact = details.archive_intact
        unit: dict[str, str] = {
            "archive": str(local.archive),
            "size": str(local.size),
            "size-human": human_size(local.size),
            "stored-at": _stamp(local.stored_at),
            "trigger": local.trigger,
            "application": local.application,
            "downloaded-from": local.source,
            "checksum-matches": _bool(bool(intact)),
            "checksum-actual": details.actual_checksum or "unreadable",
        }
        results["unit"] = unit
        results["archive-intact"] = _bool(bool(intact))
    return results


def removal_results(removal: Removal) -> dict[str, Any]:
    """The remove-backups results: counts, and one entry per id in the order given.

    Args:
        removal: what the service did.

    Returns:
        ``removed``, ``failed``, ``controller`` and ``results``, whose keys are the ids'
        positions (ids themselves may not be result keys).
    """
    outcomes = removal.outcomes
    width = len(str(len(outcomes)))
    per_id: dict[str, dict[str, str]] = {}
    for number, outcome in enumerate(outcomes, 1):
        item = {"id": outcome.id, "removed-from": ", ".join(outcome.removed_from) or "nowhere"}
        if outcome.error is not None:
            item["error"] = outcome.error
        per_id[f"{number:0{width}d}"] = item
    return {
        "removed": str(sum(1 for o in outcomes if o.removed_from)),
        "failed": str(len(removal.failed)),
        "controller": removal.controller,
        "results": per_id,
    }


def removal_failure(removal: Removal) -> str:
    """The action's failure message when some ids could not be removed.

    Args:
        removal: what the service did.

    Returns:
        One line naming the failed ids and why (the first few; the results have all).
    """
    failed = removal.failed
    reasons = "; ".join(f"{o.id}: {o.error}" for o in failed[:FAILURES_SHOWN])
    if len(failed) > FAILURES_SHOWN:
        reasons += f"; and {len(failed) - FAILURES_SHOWN} more (see the results)"
    return f"{len(failed)} of {len(removal.outcomes)} could not be removed: {reasons}"


def plan_results(plan: RestorePlan, *, timeout: float, unit: str) -> dict[str, Any]:
    """The results of restore without confirm: what a confirmed restore would do.

    Args:
        plan: what the service found.
        timeout: seconds a confirmed restore would wait for the controller.
        unit: this unit's name, for the command to run next.

    Returns:
        The plan as results; nothing was changed.
    """
    target = plan.controller_id or "the uploaded copy"
    steps = ["PrepareRestore: the controller enters restore mode and refuses most other calls"]
    if plan.upload and plan.archive is not None:
        why = (
            "the controller's copy has other content"
            if plan.controller_differs
            else "the controller does not have it"
        )
        steps.append(f"upload {plan.archive.name} ({human_size(plan.size)}), as {why}")
    steps += [
        f"Restore {target}: the controller restores it, then restarts",
        f"wait up to {timeout:g} s for the controller to come back, reconnecting",
        "FinishRestore: the controller confirms the restore and leaves restore mode",
    ]
    results: dict[str, Any] = {
        "backup-id": plan.backup_id,
        "controller-version": plan.controller_version,
        "controller-endpoint": plan.endpoint,
        "upload-needed": _bool(plan.upload),
        "plan": "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1)),
        "next": (
            "nothing was changed; to restore, run: juju run "
            f"{unit or '<unit>'} restore backup-id={plan.backup_id} confirm=true"
        ),
    }
    if plan.controller_id is not None:
        results["controller-id"] = plan.controller_id
    if plan.archive is not None:
        results["archive"] = str(plan.archive)
        results["archive-intact"] = _bool(True)  # the plan verified it, or it raised
    return results


def outcome_results(outcome: RestoreOutcome) -> dict[str, Any]:
    """The results of a confirmed restore.

    Args:
        outcome: the restore the controller confirmed.

    Returns:
        What was restored, on which controller, and when.
    """
    return {
        "backup-id": outcome.backup_id,
        "restored": outcome.controller_id,
        "controller-version": outcome.controller_version,
        "uploaded": _bool(outcome.uploaded),
        "resumed": _bool(outcome.resumed),
        "started-at": _stamp(outcome.started_at),
        "finished-at": _stamp(outcome.finished_at),
        "result": (
            f"controller {outcome.controller_version} restored backup {outcome.controller_id} "
            "and confirmed it (FinishRestore)"
        ),
    }


def string_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Metadata as result values: strings, legal keys, no CA material, no "unknown" values.

    Args:
        metadata: wire-keyed metadata.

    Returns:
        The cleaned metadata.
    """
    return {
        key: _result_text(value)
        for key, value in clean_metadata(metadata).items()
        if isinstance(key, str) and _KEY.fullmatch(key)
    }


def backup_results(entry: Entry) -> dict[str, Any]:
    """The create-backup action's results: Juju-legal keys, no CA material.

    Args:
        entry: the stored backup.

    Returns:
        A nested mapping of strings.
    """
    # No CA material, no "unknown" values, and what the controller wrote made safe for Juju.
    metadata = string_metadata(entry.metadata)
    return {
        "backup-id": entry.id,
        "archive": str(entry.archive),
        "size": str(entry.size),
        "size-human": human_size(entry.size),
        "stored-at": _stamp(entry.stored_at),
        "downloaded-from": entry.source,
        "metadata": metadata,
    }


def prune_results(
    chosen: list[Entry], *, dry_run: bool, policy: str, remaining: int
) -> dict[str, str]:
    """The prune-backups action's results.

    Args:
        chosen: the archives removed, or that would be.
        dry_run: whether they were only chosen.
        policy: the retention policy in words.
        remaining: how many archives of the application are on the storage now.

    Returns:
        A flat mapping of strings.
    """
    count = len(chosen)
    total = remaining if dry_run else remaining + count
    archives = "archive" if total == 1 else "archives"
    if dry_run:
        summary = f"{count} of {total} {archives} would be removed"
        if count:
            summary += " (run prune-backups dry-run=false to remove them)"
    else:
        summary = f"removed {count} of {total} {archives}"
    results = {"dry-run": str(dry_run).lower(), "policy": policy, "summary": summary}
    if chosen:
        results["archives"] = "\n".join(describe_archive(entry) for entry in chosen)
    return results


def describe_archive(entry: Entry) -> str:
    """One archive in a line: its id, when it was taken and its size."""
    return f"{entry.id} ({_stamp(entry.when)}, {human_size(entry.size)})"


def last_backup_record(entry: Entry) -> dict[str, Any]:
    """What the status remembers of the newest backup (kept in StoredState)."""
    return {"id": entry.id, "at": _stamp(entry.when), "size": entry.size}


def status_summary(last_backup: Mapping[str, Any] | None, failed_at: str | None) -> str:
    """The backups' part of the Active status.

    Args:
        last_backup: the record :func:`last_backup_record` made of the newest backup, if any.
        failed_at: when the last attempt failed, if it did (and nothing else was wrong).

    Returns:
        One line.
    """
    text = (
        f"last backup {last_backup['id']} at {last_backup['at']} "
        f"({human_size(int(last_backup['size']))})"
        if last_backup
        else "ready; no backup taken yet (run create-backup)"
    )
    if failed_at is not None:
        text += f"; the attempt at {failed_at} failed (see juju show-operation)"
    return text


def _result_text(value: object) -> str:
    # The controller wrote these; Juju takes results as action-set arguments, which cannot
    # hold a NUL and must stay far below the kernel's 128 KiB per argument.
    text = "".join(c if c.isprintable() else "\ufffd" for c in str(value))
    return text if len(text) <= RESULT_LIMIT else text[: RESULT_LIMIT - 3] + "..."


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _stamp(value: datetime) -> str:
    return f"{_time(value)} UTC"


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


__all__ = [
    "FORMATS",
    "JSON",
    "TABLE",
    "details_results",
    "listing_results",
    "outcome_results",
    "plan_results",
    "removal_failure",
    "removal_results",
    "render_json",
    "render_table",
    "string_metadata",
]
