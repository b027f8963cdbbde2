"""Layer facts shared through the state store: a layer catalogued by one worker is read by
another from the shared tier (and kept in its local cache); a damaged shared entry is a miss."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.scan.catalogers import CATALOGERS
from patchwarden.scan.layer_cache import LayerCache, cache_key
from patchwarden.scan.model import FileFacts, LayerFacts, OSInfo
from patchwarden.store import open_store
from patchwarden.store.db import Store
from patchwarden.store.shared import SharedContent

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(str(tmp_path / "state.db")) as s:
        yield s


def _facts() -> LayerFacts:
    return LayerFacts(
        digest=DIGEST,
        diff_id=None,
        files={"etc/os-release": FileFacts(os=OSInfo(id="debian", version_id="12"))},
        whiteouts=(),
        opaque_dirs=(),
        entries=1,
        warnings=(),
        links={},
    )


def test_a_layer_catalogued_by_one_worker_is_read_by_another(
    store: Store, tmp_path: Path
) -> None:
    shared = SharedContent(store.engine, "layer")
    a = LayerCache(tmp_path / "a", shared)
    b = LayerCache(tmp_path / "b", shared)
    assert b.get(DIGEST, CATALOGERS) is None
    a.put(_facts(), CATALOGERS)
    got = b.get(DIGEST, CATALOGERS)
    assert got is not None and got.files["etc/os-release"].os == OSInfo(
        id="debian", version_id="12"
    )
    key = cache_key(DIGEST, CATALOGERS)
    assert (tmp_path / "b" / key[:2] / f"{key}.json").exists()  # kept locally from now on
    a.put(_facts(), CATALOGERS)  # a second write of the same content is no error


def test_a_damaged_shared_entry_is_a_miss(store: Store, tmp_path: Path) -> None:
    shared = SharedContent(store.engine, "layer")
    shared.write(cache_key(DIGEST, CATALOGERS), b"not sealed")
    assert LayerCache(tmp_path / "c", shared).get(DIGEST, CATALOGERS) is None
    assert LayerCache(tmp_path / "d").get(DIGEST, CATALOGERS) is None  # no shared tier
