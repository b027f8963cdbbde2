"""The order in which ``make test``'s pytest-xdist workers take test files (``--dist loadfile``).

xdist hands out whole files, by default those with the most tests first: hundreds of
millisecond-long unit tests first, and the integration files (a few tests each, but minutes of
waiting on Podman, servers and child processes) last, so the run ends with one worker on a long
file while the others are idle. ``make test`` passes ``--no-loadscope-reorder`` (files in
collection order) and every worker sorts its collection with :func:`long_files_first` (the
same on every worker, as xdist requires): the long files go first (integration, then hostile,
where every case is a CLI process, then unit; the file with the most tests first within each)
and the quick files fill the gaps at the end. Only the order changes: every test still runs,
each file whole on one worker. A serial run keeps pytest's own order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

# a test file's rank by its directory: lower starts earlier
RANKS = (("tests/integration/", 0), ("tests/hostile/", 1))
OTHER = 2


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _rank(path: str) -> int:
    return next((rank for prefix, rank in RANKS if path.startswith(prefix)), OTHER)


def long_files_first(items: Sequence[pytest.Item]) -> list[pytest.Item]:
    """``items`` with whole files reordered; each file's own order is kept."""
    files = [_file(item.nodeid) for item in items]
    counts = Counter(files)
    order = sorted(range(len(items)), key=lambda i: (_rank(files[i]), -counts[files[i]], i))
    return [items[i] for i in order]
