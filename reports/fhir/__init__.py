"""A read-only FHIR R4 (4.0.1) server under ``/fhir/``: Patient, Specimen, ServiceRequest,
Observation and DiagnosticReport, read and searched, from the records the REST API reads.

It answers only what the caller may open (``labpanel.accounts.access``: the same scopes as the
REST API), writes one read-audit entry per answer that carries patient data, and answers every
error as an ``OperationOutcome``. Its modules:

- ``codes``: the code systems and the tables the resources use (UCUM units, v3 interpretation);
- ``resources``: pure builders, rows already read -> FHIR JSON dicts (no queries);
- ``search``: the search parameters, parsed and checked (strict: unknown ones are refused);
- ``selectors``: the few queries (constant in the number of results);
- ``encoding``: FHIR JSON as the server writes it (answers and stored resources alike);
- ``stored``: each report's DiagnosticReport and Observations kept as that JSON
  (``reports.models_fhir``), which a DiagnosticReport search serves while they are current;
- ``bundles``: searchset Bundles and their paging links;
- ``errors``: OperationOutcome answers;
- ``views`` and ``urls``: the endpoints.
"""
