"""Reports: a panel's interpretation report as a job row (pending, rendering, ready, failed),
the document built from the stored panel, its PDF rendering (``rendering/``, reportlab only) and
the Celery tasks that render, retry and requeue.

Layer 4 (tests/test_architecture_layers.py): it reads ``panels``, ``reference_ranges`` and
``labpanel.accounts``; it never imports ``panels.intake``, which calls it. ``reports.tasks``
measures the broker queue with the project's Celery app (``labpanel.celery``), the one
configuration module the layers may import.
"""
