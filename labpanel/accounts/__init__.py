"""Accounts: labs, staff roles and who may see or do what.

This app is the bottom layer: it owns ``Lab``, ``Role`` and ``StaffMember`` (their tables keep
the names they had in ``panels``), the services that create memberships and API tokens, and
:mod:`labpanel.accounts.access`, the one module that reads a role. Every "may this user see or
do X" decision and every list-scoping filter lives in ``access``; nothing else checks a role.
It imports nothing from ``panels``, ``reference_ranges`` or ``reports`` (layer 1, with
``labpanel.events``; tests/test_architecture_layers.py).
"""
