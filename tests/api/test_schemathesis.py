"""schemathesis over the whole API (issue 13): every operation of ``/api/v1/schema/``, called
by each role of the lab (the director, who may call every operation; the technician, the
clinician and the interface, refused some) with cases drawn from the schema, answers no
``5xx`` and nothing the schema does not describe (status code, content type, body, headers).

Bounded and repeatable: schemathesis' coverage phase (the schema's boundary and invalid values,
a fixed set per operation) and ``MAX_EXAMPLES`` random examples per operation, derandomized, so
CI runs the same cases every time, in about a minute for the four roles. The calls go
in-process to the WSGI application, inside the test's transaction on the real PostgreSQL
database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from labpanel.accounts.models import StaffMember
from labpanel.accounts.services import api_token_issue
from labpanel.wsgi import application

MAX_EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _served_schema() -> dict[str, Any]:
    """The schema ``/api/v1/schema/`` serves (``SpectacularAPIView``: the same generator, public),
    made at collection time so that each operation is a test of its own."""
    generated: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    served: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(generated))
    return served


# HL7 over HTTP takes the ER7 text as it is
schemathesis.serializer.alias("x-application/hl7-v2+er7", "text/plain")

schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = application  # called in-process through WSGI


@pytest.fixture(autouse=True)
def in_process_requests() -> Iterator[None]:
    """The WSGI application called in-process keeps the test's connection, as Django's test
    client does (it would close it at each request's start and end)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_the_schema_tested_is_the_one_served(director: StaffMember) -> None:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_issue(user=director.user, expires_in=None)}"
    )

    served = client.get("/api/v1/schema/", {"format": "json"}).json()

    assert served == _served_schema()
    assert len(list(schema.get_all_operations())) == sum(
        1 for item in served["paths"].values() for method in item if method != "parameters"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["director", "technician", "clinician", "integrator"])
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says(
    case: Any,
    role: str,
    reference_data: None,
    director: StaffMember,
    technician: StaffMember,
    clinician: StaffMember,
    integrator: StaffMember,
) -> None:
    # every role: the director may call every operation, the others are refused some (the
    # interface, the API's outside caller, most of them), and every answer, refusals
    # included, must be one the schema describes.
    # A token per call: an example may log its caller out.
    caller = {
        "director": director,
        "technician": technician,
        "clinician": clinician,
        "integrator": integrator,
    }[role]
    token = api_token_issue(user=caller.user, expires_in=None)
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
