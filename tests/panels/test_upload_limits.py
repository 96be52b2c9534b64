"""Limits on uploads (issue 13, "Limits on every input"): an import's file and manifest and a
rule-set document are capped and answered ``413``, and the cap holds while the body streams.

Every body here is read through ``CountingInput``, the WSGI input the server would hand Django:
it counts the bytes taken from it, so each test proves how far the server read — at most the
limit and one chunk — not only what it answered. Chunked bodies (no ``Content-Length``; gunicorn
de-chunks them and marks the input terminated) are held to the same limits."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.uploads import READ_CHUNK_BYTES
from panels.models import ImportJob
from reference_ranges.models import ReferenceRangeSet
from tests.conftest import token_client
from tests.imports.test_import_jobs import LONG_CSV

pytestmark = pytest.mark.django_db

BOUNDARY = "limits-boundary-7d1f"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
#: Django's upload handlers see a file in chunks of 64 KiB.
UPLOAD_CHUNK = 64 * 1024
#: Part headers and boundaries around the fields of a body.
OVERHEAD = 4 * 1024
LIMIT = 100 * 1024
MANIFEST = b"sample_id,accession,mrn,family_name,given_name,birth_date,sex\n"


class CountingInput(io.RawIOBase):
    """A WSGI input of ``size`` bytes (``head`` then filler) that counts what was read of it."""

    def __init__(self, head: bytes, size: int, tail: bytes = b"") -> None:
        self.head, self.tail, self.size, self.position = head, tail, size, 0

    def readable(self) -> bool:
        return True

    def _slice(self, start: int, end: int) -> bytes:
        tail_start = self.size - len(self.tail)
        head = self.head[start:end]
        filler = max(0, min(end, tail_start) - max(start, len(self.head)))
        tail = self.tail[max(start - tail_start, 0) : max(end - tail_start, 0)]
        return head + b"x" * filler + tail

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        data = self._slice(self.position, end)
        self.position = end
        return data

    def readline(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        line = b""
        while self.position < end:
            piece = self._slice(self.position, min(end, self.position + 65536))
            newline = piece.find(b"\n")
            if newline >= 0:
                piece = piece[: newline + 1]
            line += piece
            self.position += len(piece)
            if newline >= 0:
                break
        return line


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename:
        head += "Content-Type: text/csv\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def _body(
    fields: list[tuple[str, bytes, str | None]], big: tuple[str, int] | None
) -> CountingInput:
    """A multipart body of ``fields`` then, when ``big`` is given, a file of that field and size
    (the body is never built in memory: the filler is made as it is read)."""
    head = b"".join(_part(name, value, filename) for name, value, filename in fields)
    end = f"--{BOUNDARY}--\r\n".encode()
    if big is None:
        whole = head + end
        return CountingInput(whole, len(whole))
    field, size = big
    head += _part(field, b"", f"{field}.csv")[: -len(b"\r\n")]
    tail = b"\r\n" + end
    return CountingInput(head, len(head) + size + len(tail), tail)


def _post(
    client: Client, path: str, body: CountingInput, *, chunked: bool = False, **extra: Any
) -> Any:
    # the test clients set a content type only with data of their own: set it here
    meta: dict[str, Any] = {"wsgi.input": body, "CONTENT_TYPE": MULTIPART}
    if chunked:
        meta.update({"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"})
        meta["wsgi.input_terminated"] = True
    else:
        meta["CONTENT_LENGTH"] = str(body.size)
    return client.generic("POST", path, b"", content_type=MULTIPART, **meta, **extra)


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.IMPORT_MAX_BYTES = LIMIT
    settings.IMPORT_MANIFEST_MAX_BYTES = LIMIT // 2
    settings.REQUEST_BODY_MAX_BYTES = 4 * LIMIT
    return settings


def test_an_import_file_over_the_limit_stops_the_upload_there_and_is_a_413(
    limits: Any, technician_client: APIClient
) -> None:
    body = _body([], big=("file", 3 * LIMIT))

    response = _post(technician_client, "/api/v1/imports/", body)

    assert response.status_code == 413
    answer = response.json()
    assert answer["code"] == "too_large"
    assert answer["message"].startswith(f"the file is over the limit of {LIMIT} bytes")
    assert answer["details"] == [{"field": "file", "message": f"larger than {LIMIT} bytes"}]
    assert body.position <= LIMIT + UPLOAD_CHUNK + OVERHEAD < body.size  # stopped reading
    assert not ImportJob.objects.exists()


def test_a_manifest_over_its_limit_is_a_413_and_nothing_is_stored(
    limits: Any, technician_client: APIClient
) -> None:
    body = _body([("file", LONG_CSV.encode(), "run.csv")], big=("manifest", 3 * LIMIT))

    response = _post(technician_client, "/api/v1/imports/", body)

    assert response.status_code == 413
    assert response.json()["details"] == [
        {"field": "manifest", "message": f"larger than {LIMIT // 2} bytes"}
    ]
    assert body.position <= len(LONG_CSV) + LIMIT // 2 + UPLOAD_CHUNK + OVERHEAD < body.size
    assert not ImportJob.objects.exists()


def test_files_within_their_limits_are_still_taken(
    limits: Any, technician_client: APIClient
) -> None:
    body = _body([("file", LONG_CSV.encode(), "run.csv"), ("manifest", MANIFEST, "m.csv")], None)

    response = _post(technician_client, "/api/v1/imports/", body)

    assert response.status_code == 202, response.json()
    assert ImportJob.objects.get().manifest_filename == "m.csv"


def test_a_body_declared_over_the_request_limit_is_refused_before_a_byte_is_read(
    limits: Any, technician_client: APIClient
) -> None:
    body = _body([], big=("file", 5 * LIMIT))

    response = _post(technician_client, "/api/v1/imports/", body)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert f"over the limit of {4 * LIMIT} bytes ({body.size} bytes)" in response.json()["message"]
    assert body.position == 0
    assert not ImportJob.objects.exists()


def test_a_chunked_body_over_the_request_limit_is_read_no_further_than_the_limit(
    limits: Any, technician_client: APIClient
) -> None:
    body = _body([], big=("file", 20 * LIMIT))

    response = _post(technician_client, "/api/v1/imports/", body, chunked=True)

    assert response.status_code == 413
    assert "(a chunked body)" in response.json()["message"]
    assert body.position <= 4 * LIMIT + 1 < body.size
    assert not ImportJob.objects.exists()


def test_a_chunked_body_is_held_to_each_files_limit_and_otherwise_taken(
    limits: Any, technician_client: APIClient
) -> None:
    too_large = _body([], big=("file", 2 * LIMIT))
    refused = _post(technician_client, "/api/v1/imports/", too_large, chunked=True)
    taken = _post(
        technician_client,
        "/api/v1/imports/",
        _body([("file", LONG_CSV.encode(), "run.csv")], None),
        chunked=True,
    )

    assert refused.status_code == 413
    assert refused.json()["details"][0]["field"] == "file"
    assert taken.status_code == 202, taken.json()
    assert ImportJob.objects.get().size_bytes == len(LONG_CSV.encode())


def test_the_import_page_stops_a_file_over_the_limit_and_says_so(
    limits: Any, technician: StaffMember, clinician: StaffMember, reference_data: None
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(technician.user)
    browser.get("/imports/")  # sets the CSRF cookie, as a browser's first visit does
    token = browser.cookies["csrftoken"].value
    # a browser sends the form's fields in order: the CSRF token first
    body = _body([("csrfmiddlewaretoken", token.encode(), None)], big=("file", 3 * LIMIT))

    response = _post(browser, "/imports/", body)

    assert response.status_code == 413
    page = response.content.decode()
    assert f"the file is over the limit of {LIMIT} bytes" in page
    assert "Import results from a file" in page  # the page, with the form to try again
    assert body.position <= LIMIT + UPLOAD_CHUNK + OVERHEAD < body.size
    assert not ImportJob.objects.exists()


def test_the_import_page_refuses_a_body_over_the_request_limit_unread(
    limits: Any, technician: StaffMember, reference_data: None
) -> None:
    browser = Client()
    browser.force_login(technician.user)
    body = _body([], big=("file", 5 * LIMIT))

    response = _post(browser, "/imports/", body)

    assert response.status_code == 413
    assert f"over the limit of {4 * LIMIT} bytes" in response.content.decode()
    assert body.position == 0


def test_a_rule_set_document_over_its_limit_is_a_413_read_no_further(
    settings: Any, reference_data: None, director: StaffMember
) -> None:
    settings.RULESET_MAX_BYTES = LIMIT
    before = ReferenceRangeSet.objects.count()
    head = b'{"ruleset": {"key": "big", "notes": "'
    body = CountingInput(head, 10 * LIMIT, b'"}}')

    response = token_client(director).generic(
        "POST",
        "/api/v1/rulesets/import/",
        "",
        content_type="application/json",
        CONTENT_LENGTH=str(body.size),
        **{"wsgi.input": body},  # type: ignore[arg-type]
    )

    assert response.status_code == 413
    assert response.json() == {
        "code": "too_large",
        "message": f"the rule-set document is over the limit of {LIMIT} bytes; nothing was stored",
        "details": [{"field": "body", "message": f"larger than {LIMIT} bytes"}],
    }
    assert body.position == LIMIT + 1
    assert ReferenceRangeSet.objects.count() == before


def test_limits_read_from_the_settings_have_documented_defaults() -> None:
    from django.conf import settings

    assert READ_CHUNK_BYTES == 64 * 1024
    assert settings.RULESET_MAX_BYTES == 2 * 1024 * 1024
    assert settings.IMPORT_MANIFEST_MAX_BYTES == 16 * 1024 * 1024
    assert settings.REQUEST_BODY_MAX_BYTES == (
        settings.IMPORT_MAX_BYTES
        + settings.IMPORT_MANIFEST_MAX_BYTES
        + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )
