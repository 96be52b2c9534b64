"""Settings read from the environment (``labpanel.env``)."""

from __future__ import annotations

import pytest

from labpanel.env import env_switchable


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "600/min"),  # not set: the default
        ({"LABPANEL_API_RATE": "20/second"}, "20/second"),
        ({"LABPANEL_API_RATE": ""}, None),  # set empty: off, as the README says
        ({"LABPANEL_API_RATE": "off"}, None),
        ({"LABPANEL_API_RATE": " None "}, None),
    ],
)
def test_a_switchable_setting_is_its_default_unless_set_and_off_when_set_empty(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str | None
) -> None:
    monkeypatch.delenv("LABPANEL_API_RATE", raising=False)
    monkeypatch.delenv("LABPANEL_API_RATE_FILE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert env_switchable("LABPANEL_API_RATE", "600/min") == expected
