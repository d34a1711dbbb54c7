"""The notes template: strict parsing, rendering, cleaning."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import notes
from notes import FIELDS, MAX_LENGTH, TemplateError

NOW = datetime(2026, 12, 4, 15, 19, 7, tzinfo=timezone.utc)


def values(**overrides: str) -> dict[str, str]:
    result = notes.values_for(
        trigger="scheduled",
        unit="juju-backups/0",
        app="juju-backups",
        model="ops",
        controller="prod",
        juju_version="3.6.27",
        now=NOW,
    )
    result.update(overrides)
    return result


def test_fields_are_exactly_the_documented_names() -> None:
    assert (
        frozenset(
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
        == FIELDS
    )


def test_every_field_renders() -> None:
    template = " ".join(f"{{{name}}}" for name in sorted(FIELDS))
    rendered = notes.render(template, values())
    assert rendered == (
        "juju-backups prod 2026-12-04 3.6.27 ops 15:19:07 2026-12-04T15:19:07Z scheduled "
        "juju-backups/0"
    )


def test_hyphenated_field_renders() -> None:
    assert notes.render("on Juju {juju-version}", values()) == "on Juju 3.6.27"


def test_literal_text_and_escaped_braces() -> None:
    assert notes.render("{{app}} is {app} {{x}}", values()) == "{app} is juju-backups {x}"
    assert notes.render("", values()) == ""
    assert notes.render("plain", values()) == "plain"


def test_values_for_uses_utc() -> None:
    plus_ten = timezone(timedelta(hours=10))
    local = datetime(2026, 12, 5, 1, 19, 7, tzinfo=plus_ten)  # 2026-12-04 15:19:07 UTC
    got = notes.values_for(
        trigger="t", unit="u/0", app="u", model="m", controller="c", juju_version="v", now=local
    )
    assert (got["date"], got["time"], got["timestamp"]) == (
        "2026-12-04",
        "15:19:07",
        "2026-12-04T15:19:07Z",
    )
    assert set(got) == FIELDS


def test_values_for_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        notes.values_for(
            trigger="t",
            unit="u/0",
            app="u",
            model="m",
            controller="c",
            juju_version="v",
            now=datetime(2026, 1, 1),
        )


@pytest.mark.parametrize(
    "template",
    [
        "",
        "{trigger} backup of {controller} at {timestamp}",
        "{{literal}}",
        "{juju-version}",
        "100% {app}",
        "naïve ünïcode ✓ {app}",
    ],
)
def test_valid_templates(template: str) -> None:
    notes.validate(template)


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{foo}", "unknown placeholder {foo}"),
        ("{juju_version}", "unknown placeholder {juju_version}"),
        ("{ app }", "unknown placeholder { app }"),
        ("{App}", "unknown placeholder {App}"),
        ("{0}", "unknown placeholder {0}"),
        ("{}", "empty placeholder {}"),
        ("{app.__class__}", "attribute or index access in {app.__class__}"),
        ("{app[0]}", "attribute or index access in {app[0]}"),
        ("{model.__init__.__globals__}", "attribute or index access in {model.__init__"),
        ("{x.y}", "unknown placeholder {x.y}"),
        ("{app!r}", "conversion '!r' in {app!r}"),
        ("{app!s}", "conversion '!s' in {app!s}"),
        ("{app:>10}", "format spec ':>10' in {app:>10}"),
        ("{app:{unit}}", "format spec ':{unit}' in {app:{unit}}"),
        ("{!r}", "conversion '!r'"),
        ("{", "the '{' at position 0 is never closed"),
        ("abc {app", "the '{' at position 4 is never closed"),
        ("}", "the '}' at position 0 has no opening '{'"),
        ("{app}}", "the '}' at position 5 has no opening '{'"),
        ("{{app}", "the '}' at position 5 has no opening '{'"),
        ("{app!}", "malformed"),
        ("{app!rr}", "malformed"),
    ],
)
def test_invalid_templates_name_the_bad_part(template: str, named: str) -> None:
    with pytest.raises(TemplateError) as info:
        notes.validate(template)
    assert named in str(info.value)


@pytest.mark.parametrize("template", ["{foo}", "{app.x}", "{app!r}", "{app:5}", "{}"])
def test_placeholder_errors_list_the_allowed_names(template: str) -> None:
    with pytest.raises(TemplateError) as info:
        notes.validate(template)
    message = str(info.value)
    for name in FIELDS:
        assert f"{{{name}}}" in message


def test_malformed_templates_say_how_to_write_braces() -> None:
    with pytest.raises(TemplateError, match=r"write \{\{ and \}\} for literal braces"):
        notes.validate("a } b")


@pytest.mark.parametrize(
    ("template", "code", "position"),
    [
        ("line\nbreak", "U+000A", 4),
        ("tab\there", "U+0009", 3),
        ("\x1b[31mred", "U+001B", 0),
        ("nul\x00", "U+0000", 3),
        ("abc\u202edcba", "U+202E", 3),
        ("para\u2029graph", "U+2029", 4),
        ("del\x7f", "U+007F", 3),
    ],
)
def test_control_characters_in_templates_are_refused(
    template: str, code: str, position: int
) -> None:
    with pytest.raises(TemplateError) as info:
        notes.validate(template)
    assert f"control character {code} at position {position}" in str(info.value)


def test_templates_longer_than_the_limit_are_refused() -> None:
    notes.validate("x" * MAX_LENGTH)
    with pytest.raises(TemplateError, match=f"{MAX_LENGTH + 1} characters long; the limit"):
        notes.validate("x" * (MAX_LENGTH + 1))


def test_non_text_template_is_refused() -> None:
    with pytest.raises(TemplateError, match="must be text"):
        notes.validate(None)  # type: ignore[arg-type]


def test_render_validates_first() -> None:
    with pytest.raises(TemplateError, match="unknown placeholder"):
        notes.render("{password}", {"password": "hunter2"})


def test_render_never_evaluates_attribute_access() -> None:
    class Spy(str):
        __slots__ = ()

        @property
        def secret(self) -> str:
            raise AssertionError("attribute access was evaluated")

    with pytest.raises(TemplateError):
        notes.render("{app.secret}", {"app": Spy("x")})


def test_render_needs_a_value_for_each_used_placeholder() -> None:
    with pytest.raises(KeyError, match=r"\{model\}"):
        notes.render("{app} {model}", {"app": "a"})
    # Unused placeholders need no value.
    assert notes.render("{app}", {"app": "a"}) == "a"


def test_render_cleans_values() -> None:
    rendered = notes.render(
        "[{trigger}]", values(trigger="evil\napp\r\n\x1b[2J\u202eok\x00\u2028x")
    )
    assert rendered == "[evil app  [2Jok x]"


def test_render_truncates_to_the_limit() -> None:
    rendered = notes.render("{model}-{app}", values(model="m" * 400, app="a" * 400))
    assert len(rendered) == MAX_LENGTH
    assert rendered == ("m" * 400 + "-" + "a" * 400)[:MAX_LENGTH]


def test_render_truncates_after_escaping() -> None:
    # "{{" renders as one character, so a template at the limit never renders longer.
    template = "{{" * (MAX_LENGTH // 2)
    assert notes.render(template, values()) == "{" * (MAX_LENGTH // 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\tb\nc\rd\ve\ff", "a b c d e f"),
        ("bell\x07", "bell"),
        ("esc\x1b[0m", "esc[0m"),
        ("zero\u200bwidth", "zerowidth"),
        ("rtl\u202eoverride\u202c", "rtloverride"),
        ("line\u2028sep", "line sep"),
        ("ünïcode ✓ 日本", "ünïcode ✓ 日本"),
    ],
)
def test_clean(text: str, expected: str) -> None:
    assert notes.clean(text) == expected


def test_clean_limits_length() -> None:
    assert notes.clean("x" * (MAX_LENGTH * 2)) == "x" * MAX_LENGTH


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


def test_maker_renders_the_template_once_the_controller_is_known() -> None:
    from service import ControllerFacts

    make = notes.maker(
        "{trigger} {unit} {app} {model} {controller} {juju-version}",
        trigger="manual",
        unit="juju-backups/0",
        app="juju-backups",
        model="controller",
        extra="asked\nby app",
    )
    assert make(ControllerFacts(uuid="c-uuid", version="3.6.27")) == (
        "manual juju-backups/0 juju-backups controller c-uuid 3.6.27: asked by app"
    )
