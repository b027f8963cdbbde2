from __future__ import annotations

import pytest

from patchwarden.scan.catalogers import CATALOGERS, Catalogers
from patchwarden.scan.layer_cache import cataloger_ids
from patchwarden.scan.model import FileFacts
from testkit.cataloger_helpers import entry

GARBAGE = [
    b"",
    b"\x00" * 100,
    b"\xff\xfe garbage \x00\x01",
    b"PK\x03\x04broken",
    b"{",
    b"SQLite format 3\x00xx",
]
PATHS = [
    "etc/os-release",
    "etc/debian_version",
    "etc/alpine-release",
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/foo",
    "var/lib/dpkg/info/foo.list",
    "lib/apk/db/installed",
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages",
    "usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA",
    "usr/lib/python3/dist-packages/x-1.0.egg-info",
    "app/node_modules/x/package.json",
    "usr/local/bin/app",
    "app/app.jar",
]


def test_fixed_order_and_unique_names() -> None:
    names = [c.name for c in CATALOGERS]
    assert names == ["osrelease", "dpkg", "apk", "rpm", "python", "npm", "golang", "java"]
    assert all(isinstance(c.version, int) and c.version >= 1 for c in CATALOGERS)


def test_lazy_ids_match_the_classes() -> None:
    """The cache keys use CATALOGERS.ids (known without importing the catalogers): a bumped
    class version must be bumped there too, or stale cache entries would be served."""
    fresh = Catalogers()
    assert fresh._items is None and len(fresh) == 8  # nothing imported for ids or len
    assert list(fresh.ids) == [(c.name, c.version) for c in CATALOGERS]
    assert cataloger_ids(fresh) == cataloger_ids(list(CATALOGERS))
    assert fresh._items is None
    assert [type(c).__name__ for c in fresh] == [type(c).__name__ for c in CATALOGERS]


@pytest.mark.parametrize("data", GARBAGE)
@pytest.mark.parametrize("path", PATHS)
def test_garbage_never_raises(path: str, data: bytes) -> None:
    for cat in CATALOGERS:
        facts = cat.catalog(entry(path, data, 0o755))
        assert isinstance(facts, FileFacts)
        assert facts.packages == () or all(p.purl.startswith("pkg:") for p in facts.packages)


def test_wants_is_selective() -> None:
    unrelated = ["usr/share/doc/x/README", "etc/passwd", "usr/lib/x86_64-linux-gnu/libc.so.6"]
    for cat in CATALOGERS:
        for path in unrelated:
            assert not cat.wants(path, 0o644, 10_000), (cat.name, path)
