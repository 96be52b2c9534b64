"""``labpanel.db.QuickLoadModel``: every model of the project loads its rows without
``Model.__init__``, into the very instances Django's own ``from_db`` makes: the same values,
the same deferred columns (loaded on first access), the same state; and through Django's own
code whenever an init signal is connected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from rest_framework.test import APIClient

from labpanel.db import QuickLoadModel, _attnames, instance_from_db
from panels.models import Panel, Result
from reports.models import Report
from reports.services import report_render

PROJECT_APPS = ("labpanel", "panels", "reports", "reference_ranges")


def _project_models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if model.__module__.split(".")[0] in PROJECT_APPS and not model._meta.proxy
    ]


def _snapshot(instance: models.Model) -> tuple[Any, ...]:
    """What an instance holds: its loaded columns (repr: a decimal's scale, a time's zone),
    which columns are deferred, its state."""
    values = {key: repr(value) for key, value in vars(instance).items() if key != "_state"}
    state = instance._state
    return (
        type(instance),
        values,
        frozenset(instance.get_deferred_fields()),
        state.adding,
        state.db,
    )


@pytest.fixture
def through_init() -> Iterator[list[type[models.Model]]]:
    """While it is active, a post_init receiver is connected: rows go through Model.__init__."""
    made: list[type[models.Model]] = []

    def receiver(sender: type[models.Model], **kwargs: Any) -> None:
        made.append(sender)

    models.signals.post_init.connect(receiver, weak=False)
    yield made
    models.signals.post_init.disconnect(receiver)


@pytest.fixture
def panel_id(technician_client: APIClient, panel_payload: dict[str, Any]) -> int:
    """A panel submitted through the API: its id (its report pending)."""
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    return int(response.json()["id"])


def test_every_model_of_the_project_loads_quickly() -> None:
    slow = [model.__name__ for model in _project_models() if not issubclass(model, QuickLoadModel)]
    assert slow == []


@pytest.mark.django_db
def test_rows_load_into_the_instances_djangos_own_code_makes(panel_id: int) -> None:
    # given: a submitted panel and its rendered report, so most tables hold rows
    report_render(report_id=Report.objects.get(panel_id=panel_id).pk)
    loaded = [model for model in _project_models() if model._default_manager.exists()]
    assert {Panel, Result, Report} <= set(loaded)

    def read() -> list[tuple[Any, ...]]:
        rows = []
        for model in loaded:
            rows += [_snapshot(row) for row in model._default_manager.order_by("pk")]
        # deferred columns, and rows made by select_related
        for result in Result.objects.select_related("analyte", "panel").defer(
            "value", "panel__summary"
        ):
            rows += [_snapshot(result), _snapshot(result.analyte), _snapshot(result.panel)]
        return rows

    # when
    quick = read()
    models.signals.post_init.connect(_listen, weak=False)
    try:
        django = read()
    finally:
        models.signals.post_init.disconnect(_listen)

    # then
    assert quick == django
    assert len(quick) > len(loaded)


def _listen(sender: type[models.Model], **kwargs: Any) -> None:
    """A post_init receiver: with one connected, instances are made by Model.__init__."""


def test_a_model_with_its_own_init_is_made_by_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: Panel with an __init__ of its own (patched in: a model class made here would stay
    # registered for the session)
    made_by_init = []

    def __init__(self: Panel, *args: Any, **kwargs: Any) -> None:
        models.Model.__init__(self, *args, **kwargs)
        made_by_init.append(self)

    names = [field.attname for field in Panel._meta.concrete_fields]
    values = [None] * len(names)
    monkeypatch.setattr(Panel, "__init__", __init__)
    _attnames.cache_clear()  # what a model needs is decided once per class
    try:
        # when
        made = Panel.from_db("default", names, values)
        # then
        assert made_by_init == [made]
        assert instance_from_db(Panel, "default", names, values) is None
    finally:
        monkeypatch.undo()
        _attnames.cache_clear()
    assert instance_from_db(Panel, "default", names, values) is not None


@pytest.mark.django_db
def test_a_deferred_column_loads_on_first_access(panel_id: int) -> None:
    expected = Panel.objects.get(pk=panel_id).accession

    panel = Panel.objects.only("pk").get(pk=panel_id)

    assert "accession" in panel.get_deferred_fields()
    assert panel.accession == expected
    assert "accession" not in panel.get_deferred_fields()


@pytest.mark.django_db
def test_an_init_signal_receiver_sees_each_instance_made(
    panel_id: int, through_init: list[type[models.Model]]
) -> None:
    results = list(Result.objects.filter(panel_id=panel_id))

    assert through_init.count(Result) == len(results) > 0
