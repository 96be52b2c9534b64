"""Panels, the records: patients and their clinical events, panels (one specimen's ordered
panel), results and findings, their interpretation against a rule set, and the impact preview of
a candidate rule set over the stored results.

Layer 3 (tests/test_architecture_layers.py): it may import ``reference_ranges``,
``labpanel.accounts``, ``labpanel.events`` and the project's base modules, not ``reports``. The
ways in (file and HL7 ingest, bulk imports, messaging, JSON submission, amendments) belong in
``panels.intake``, layer 5, which may call reports; those still outside it are the allowed back
edges listed in that test.
"""
