"""A shared advisory index built from tests/fixtures/osv plus a few synthetic records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from testkit.advisory_helpers import FIXTURES, write_synthetic


@pytest.fixture(scope="session")
def full_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisoryIndex]:
    tmp = tmp_path_factory.mktemp("advdb")
    synth = write_synthetic(tmp / "synthetic")
    index = AdvisoryIndex(tmp / "advisories.db", create=True)
    report = import_sources(index, [str(FIXTURES), str(synth)])
    assert not report.malformed
    yield index
    index.close()
