"""Pausing the cyclic garbage collector around bulk work.

Matching a scan against the advisory index builds tens of thousands of small dicts, lists and
tuples (decoded JSON, version keys, findings) and keeps most of them until it returns. Each
700 new container objects start a collection, and the older generations' passes walk every
object kept so far: about a sixth of the matcher's time, finding nothing, since none of these
objects form reference cycles (reference counting frees them). The block runs with the
collector off; it is turned back on afterwards unless it was already off when the block began.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector disabled (process-wide)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
