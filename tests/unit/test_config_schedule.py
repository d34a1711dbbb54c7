"""The schedule, notes-template and retention options of CharmConfig."""

from __future__ import annotations

import pydantic
import pytest

from config import CharmConfig, config_error_message


def test_defaults() -> None:
    config = CharmConfig()

    assert config.schedule == "@daily"
    assert config.notes_template == "{trigger} backup of {controller} by {unit} at {timestamp}"
    assert (config.retention_count, config.retention_days) == (7, 0)


@pytest.mark.parametrize(
    ("given", "kept"),
    [("  0  2 * * *  ", "0 2 * * *"), ("@DAILY", "@daily"), ("", ""), ("   ", "")],
)
def test_schedule_is_normalised(given: str, kept: str) -> None:
    assert CharmConfig(schedule=given).schedule == kept


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"schedule": "0 0 * * 8"},
            'option schedule: schedule "0 0 * * 8": day-of-week field "8": 8 is out of range 0-7',
        ),
        (
            {"notes_template": "{when}"},
            "option notes-template: notes template has unknown placeholder {when}; allowed: ",
        ),
        ({"retention_days": -3}, "option retention-days: -3 is negative: use 0 for no limit"),
    ],
)
def test_bad_values_name_the_option_and_the_problem(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        CharmConfig.model_validate(values)

    assert config_error_message(raised.value).startswith(message)
