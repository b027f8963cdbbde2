"""The order in which ``make test``'s pytest-xdist workers take test files (``--dist loadfile``).

xdist hands out whole files, by default those with the most tests first: hundreds of
millisecond-long unit tests first, and the integration files (a few tests each, but minutes of
waiting on Podman, servers and child processes) last, so the run ends with one worker on a long
file while the others are idle. Here the long files go first: integration, then hostile (every
case a CLI process), then unit; within each, the file with the most tests first. The quick
files then fill the gaps at the end. Only the order changes: every test still runs, each file
whole on one worker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling  # type: ignore[import-untyped]  # no py.typed

# a test file's rank by its directory: lower starts earlier
RANKS = (("tests/integration/", 0), ("tests/hostile/", 1))
OTHER = 2


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _rank(path: str) -> int:
    return next((rank for prefix, rank in RANKS if path.startswith(prefix)), OTHER)


def long_files_first(collection: Sequence[str]) -> list[str]:
    """``collection`` (node ids) with whole files reordered; each file's own order is kept."""
    counts = Counter(_file(n) for n in collection)
    first_seen = {f: i for i, f in reversed(list(enumerate(_file(n) for n in collection)))}
    return sorted(
        collection,
        key=lambda n: (_rank(_file(n)), -counts[_file(n)], first_seen[_file(n)]),
    )


class LongFilesFirst(LoadFileScheduling):  # type: ignore[misc]  # untyped base
    """``--dist loadfile`` with the order of :func:`long_files_first`."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        config.option.loadscopereorder = False  # keep the order given here

    def schedule(self) -> None:
        if self.collection is None and self.collection_is_completed:
            for node, collection in self.registered_collections.items():
                self.registered_collections[node] = long_files_first(collection)
        super().schedule()
