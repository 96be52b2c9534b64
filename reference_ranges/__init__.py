"""Reference ranges: the analyte catalogue, the versioned rule sets (drafts, publication, the
exchange format), per-lab pattern-rule settings and assay measuring ranges, the patient and
specimen vocabularies (``Sex``, ``SpecimenType``) and the pure interpretation engine
(``engine/``, no Django).

Layer 2 (tests/test_architecture_layers.py): it may import ``labpanel.accounts``,
``labpanel.events`` and the project's base modules, never ``panels`` or ``reports``. The impact
preview, which reads the stored results, is therefore in :mod:`panels.ruleset_impact`.

This file holds no code, so importing the engine never loads the app.
"""
