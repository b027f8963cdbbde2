"""The Alpine cases of issue #10 against the real Alpine records (tests/fixtures/osv/Alpine,
see its SOURCES.md): what the matcher reports must be what the records say.

The expected sets are computed here independently of the matcher: every ``Alpine:v3.23``
affected entry for the package whose first ``fixed`` version is above the installed one (by
apk-tools' ordering, proven in tests/unit/versions/test_reference_orderings.py), or that has
no ``fixed`` event at all. The literal counts are the ones the issue reports from the records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.match import match
from patchwarden.scan.model import FindingStatus, OSInfo, PackageType
from patchwarden.versions.apk import apk_compare
from testkit.advisory_helpers import FIXTURES, pkg

ALPINE = OSInfo("alpine", "3.23.2")


@pytest.fixture(scope="module")
def alpine_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisoryIndex]:
    index = AdvisoryIndex(tmp_path_factory.mktemp("alpine") / "a.db", create=True)
    import_sources(index, [str(FIXTURES / "Alpine")])
    yield index
    index.close()


def by_the_records(name: str, version: str) -> dict[str, str | None]:
    """record id -> fixed version, for every record that says ``version`` is affected."""
    out: dict[str, str | None] = {}
    for path in sorted(Path(FIXTURES / "Alpine").glob("*.json")):
        record = json.loads(path.read_text())
        for aff in record["affected"]:
            if aff["package"] != {**aff["package"], "ecosystem": "Alpine:v3.23", "name": name}:
                continue
            for rng in aff["ranges"]:
                fixed = next((e["fixed"] for e in rng["events"] if "fixed" in e), None)
                if fixed is None or apk_compare(version, fixed) < 0:
                    out[record["id"]] = fixed
    return out


@pytest.mark.parametrize(
    ("name", "version", "count"),
    [("curl", "8.9.0-r0", 28), ("curl", "8.18.0-r0", 15), ("libxml2", "2.13.9-r0", 0)],
)
def test_alpine_findings_are_what_the_records_say(
    alpine_index: AdvisoryIndex, name: str, version: str, count: int
) -> None:
    installed = pkg(name, version, PackageType.APK, source_name=name)
    found = match(alpine_index, [installed], ALPINE)
    expected = by_the_records(name, version)
    assert len(expected) == count
    assert sorted(r for f in found for r in f.records) == sorted(expected)
    for f in found:
        (rid,) = f.records
        assert f.fixed_version == expected[rid]
        assert f.status is (FindingStatus.FIXED if expected[rid] else FindingStatus.NO_FIX)
        assert f.fixed_version is None or apk_compare(f.fixed_version, version) > 0


def test_curl_8_18_is_not_affected_by_cve_2023_38545(alpine_index: AdvisoryIndex) -> None:
    """Fixed in 8.4.0-r0: univers ordered 8.18.0-r0 >= 8.4.0-r0 as False."""
    newer = pkg("curl", "8.18.0-r0", PackageType.APK, source_name="curl")
    older = pkg("curl", "8.3.0-r0", PackageType.APK, source_name="curl")
    assert "CVE-2023-38545" not in {f.id for f in match(alpine_index, [newer], ALPINE)}
    hit = [f for f in match(alpine_index, [older], ALPINE) if f.id == "CVE-2023-38545"]
    assert [(f.fixed_version, f.status) for f in hit] == [("8.4.0-r0", FindingStatus.FIXED)]
