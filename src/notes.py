"""The notes template: the label every backup the charm starts carries.

A template is text with ``{name}`` placeholders for a fixed set of names; ``{{`` and ``}}``
stand for literal braces. It is operator input, so it is parsed strictly rather than handed
to ``str.format``: no attribute or index access, no conversions, no format specs.

Notes are cut to :data:`MAX_LENGTH` characters. They are a one-line label: they travel in
every action result, relation databag and the controller's own metadata, and are shown in
``list-backups`` tables. 512 characters is far more than any useful label (and than all the
placeholders expanded together), yet keeps all of those small.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service import ControllerFacts

FIELDS: frozenset[str] = frozenset(
    {
        "trigger",
        "unit",
        "app",
        "model",
        "controller",
        "juju-version",
        "date",
        "time",
        "timestamp",
    }
)
MAX_LENGTH = 512

_ALLOWED = ", ".join(f"{{{name}}}" for name in sorted(FIELDS))
# Format characters (Cf) include the bidirectional overrides that make text read differently
# from what it holds; line and paragraph separators (Zl, Zp) break one-line output as a
# newline would.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_WHITESPACE_CONTROLS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")


class TemplateError(ValueError):
    """A notes template that cannot be used; the message names the bad part."""


def validate(template: str) -> None:
    """Check a notes template.

    Args:
        template: the template.

    Raises:
        TemplateError: naming the bad part, for a control character, a malformed brace, an
            unknown placeholder, attribute or index access, a conversion, a format spec, or
            a template longer than :data:`MAX_LENGTH`.
    """
    _parse(template)


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a notes template in.

    Control characters in the values are removed (whitespace ones become spaces), and the
    result is cut to :data:`MAX_LENGTH` characters.

    Args:
        template: the template.
        values: a value for each placeholder the template uses (see :func:`values_for`).

    Returns:
        The notes.

    Raises:
        TemplateError: if the template is not valid (see :func:`validate`).
        KeyError: if ``values`` lacks a placeholder the template uses.
    """
    out = []
    for literal, name in _parse(template):
        out.append(literal)
        if name is not None:
            if name not in values:
                raise KeyError(f"no value given for placeholder {{{name}}}")
            out.append(clean(str(values[name])))
    return clean("".join(out))


def values_for(
    *,
    trigger: str,
    unit: str,
    app: str,
    model: str,
    controller: str,
    juju_version: str,
    now: datetime,
) -> dict[str, str]:
    """Build the placeholder values for one backup.

    Args:
        trigger: ``manual``, ``scheduled`` or the requesting application.
        unit: the unit running the backup.
        app: its application.
        model: the model the charm is deployed in.
        controller: the controller backed up (its name, or its UUID when the name is unknown).
        juju_version: the controller's Juju version.
        now: when the backup starts (timezone-aware); shown in UTC.

    Returns:
        A value for every name in :data:`FIELDS`.

    Raises:
        ValueError: if ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    utc = now.astimezone(timezone.utc)
    return {
        "trigger": trigger,
        "unit": unit,
        "app": app,
        "model": model,
        "controller": controller,
        "juju-version": juju_version,
        "date": utc.strftime("%Y-%m-%d"),
        "time": utc.strftime("%H:%M:%S"),
        "timestamp": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def maker(
    template: str, *, trigger: str, unit: str, app: str, model: str, extra: str = ""
) -> Callable[[ControllerFacts], str]:
    """The notes of one backup, rendered once the service knows the controller.

    Args:
        template: the notes-template option.
        trigger: ``manual``, ``scheduled`` or the requesting application.
        unit: the unit running the backup.
        app: its application.
        model: the model the charm is deployed in.
        extra: text added after the rendered template (a requester's notes), if any.

    Returns:
        A function of the controller's facts that returns the cleaned notes.
    """

    def make(facts: ControllerFacts) -> str:
        values = values_for(
            trigger=trigger,
            unit=unit,
            app=app,
            model=model,
            controller=facts.uuid,
            juju_version=facts.version,
            now=datetime.now(timezone.utc),
        )
        rendered = render(template, values)
        return clean(": ".join(part for part in (rendered, extra) if part))

    return make


def clean(text: str) -> str:
    """Make text safe as notes: one line, no control characters, at most MAX_LENGTH long.

    Used for values that come from outside (model names, a requesting application's reason,
    an explicit ``notes`` action parameter) which can only be cleaned, not refused.

    Args:
        text: the text.

    Returns:
        The cleaned text.
    """
    kept = []
    for ch in text:
        if ch in _WHITESPACE_CONTROLS:
            kept.append(" ")
        elif unicodedata.category(ch) not in _FORBIDDEN_CATEGORIES:
            kept.append(ch)
    return "".join(kept)[:MAX_LENGTH]


def _parse(template: str) -> list[tuple[str, str | None]]:
    """Split a template into (literal text, placeholder name or None) pairs, strictly."""
    if not isinstance(template, str):
        raise TemplateError(f"notes template must be text, not {type(template).__name__}")
    if len(template) > MAX_LENGTH:
        raise TemplateError(
            f"notes template is {len(template)} characters long; the limit is {MAX_LENGTH}"
        )
    for position, ch in enumerate(template):
        if ch in _WHITESPACE_CONTROLS or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            raise TemplateError(
                f"notes template has a control character U+{ord(ch):04X} at position "
                f"{position}: notes are a single line of visible text"
            )
    parts: list[tuple[str, str | None]] = []
    try:
        for literal, name, spec, conversion in string.Formatter().parse(template):
            if name is None:
                parts.append((literal, None))
                continue
            placeholder = "{" + name + (f"!{conversion}" if conversion else "")
            placeholder += (f":{spec}" if spec else "") + "}"
            _check_placeholder(placeholder, name, spec or "", conversion)
            parts.append((literal, name))
    except ValueError as e:
        if isinstance(e, TemplateError):
            raise
        raise TemplateError(
            f"notes template is malformed: {_brace_problem(template) or e}; "
            "write {{ and }} for literal braces"
        ) from None
    return parts


def _brace_problem(template: str) -> str | None:
    """Locate an unbalanced brace, for a message that points at it."""
    i = 0
    while i < len(template):
        if template.startswith(("{{", "}}"), i):
            i += 2
        elif template[i] == "{":
            end = template.find("}", i)
            if end < 0:
                return f"the '{{' at position {i} is never closed"
            i = end + 1
        elif template[i] == "}":
            return f"the '}}' at position {i} has no opening '{{'"
        else:
            i += 1
    return None


def _check_placeholder(placeholder: str, name: str, spec: str, conversion: str | None) -> None:
    if conversion is not None:
        raise TemplateError(
            f"notes template: conversion '!{conversion}' in {placeholder} is not allowed; "
            f"use a bare placeholder, one of {_ALLOWED}"
        )
    if spec:
        raise TemplateError(
            f"notes template: format spec ':{spec}' in {placeholder} is not allowed; "
            f"use a bare placeholder, one of {_ALLOWED}"
        )
    if name in FIELDS:
        return
    if not name:
        problem = "an empty placeholder {}"
    elif any(c in name for c in ".[]") and name.split(".")[0].split("[")[0] in FIELDS:
        problem = f"attribute or index access in {placeholder}"
    else:
        problem = f"unknown placeholder {placeholder}"
    raise TemplateError(f"notes template has {problem}; allowed: {_ALLOWED}")
