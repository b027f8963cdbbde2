"""Work shared by a fleet of workers: the advisory index, built once and distributed by
version through the state store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
    from patchwarden.app.fleet.index_sync import IndexSync

__all__ = ["IndexSync"]
__getattr__ = lazy_exports(__name__, {"index_sync": ["IndexSync"]})
