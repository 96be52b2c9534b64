"""A long-lived process freezes what it holds once loaded (``labpanel.process_start``): the
modules the URL patterns name are imported first, garbage is collected, not frozen."""

from __future__ import annotations

import gc
import sys
import weakref

from labpanel.process_start import freeze_after_start


class _Node:
    other: object = None


def test_the_loaded_application_is_frozen_out_of_the_collectors_passes() -> None:
    garbage = _Node()
    garbage.other = garbage  # a cycle nothing else holds
    gone = weakref.ref(garbage)
    del garbage
    try:
        frozen = freeze_after_start()
        assert frozen == gc.get_freeze_count() > 10_000
        # every view module is loaded before the freeze (the API, the lab's pages, FHIR)
        for module in ("panels.intake.api", "panels.worklist_pages", "reports.fhir.views"):
            assert module in sys.modules
        assert gone() is None  # the cycle was collected before the freeze, not frozen
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
