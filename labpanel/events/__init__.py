"""The record of domain events (a transactional outbox): one append-only row per change that
others react to, written in the same transaction as the change. See ``models`` and ``services``.
This app is at the bottom of the layering (layer 1, with ``labpanel.accounts``;
tests/test_architecture_layers.py): it imports nothing from panels, reports or reference_ranges.
"""
