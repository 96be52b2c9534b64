"""Memory management around an import's bulk work: the cyclic garbage collector paused."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector around bulk work. An import holds millions of
    long-lived objects (cells, results, measurements) and makes few reference cycles; the
    collector would traverse all of them again and again, a large share of validation's time
    (figures: bench/import_csv.py). Cycles made meanwhile are collected afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
