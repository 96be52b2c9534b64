"""``labpanel.reversing.url_for``: ``reverse``'s answer, kept per process, never another
script prefix's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse, set_script_prefix

from labpanel.reversing import id_url_parts, url_for


@pytest.fixture
def script_prefix() -> Iterator[None]:
    yield
    set_script_prefix("/")


def test_url_for_answers_what_reverse_answers_under_each_script_prefix(
    script_prefix: None,
) -> None:
    assert url_for("worklist:list") == reverse("worklist:list") == "/worklist/"
    assert url_for("reports:detail", pk=7) == reverse("reports:detail", kwargs={"pk": 7})

    set_script_prefix("/lab/")
    assert url_for("worklist:list") == reverse("worklist:list") == "/lab/worklist/"
    assert url_for("reports:detail", pk=7) == "/lab/reports/7/"

    set_script_prefix("/")
    assert url_for("worklist:list") == "/worklist/"


def test_id_url_parts_put_around_an_id_give_what_reverse_gives(script_prefix: None) -> None:
    for prefix in ("/", "/lab/"):
        set_script_prefix(prefix)
        for name in ("api:report-detail", "api:report-pdf", "reports:detail"):
            head, tail = id_url_parts(name)
            for pk in (1, 7, 12345):
                assert f"{head}{pk}{tail}" == reverse(name, args=[pk])
    set_script_prefix("/")
    assert id_url_parts("api:report-pdf") == ("/api/v1/reports/", "/pdf/")
