"""CycloneDX, SPDX and SARIF output, validated with the formats' own validators.

CycloneDX: cyclonedx-python-lib's JsonStrictValidator (the official JSON schemas, needs the
``[json-validation]`` extra, i.e. jsonschema). SPDX: the written JSON is parsed back with
spdx-tools and checked with ``validate_full_spdx_document``. SARIF: no schema file is available
offline, so a hand-written subset of the SARIF 2.1.0 schema (the required fields and the enums
we use) is checked with jsonschema.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from patchwarden.sbom.cyclonedx import write_cyclonedx
from patchwarden.sbom.model import ScanReport
from patchwarden.sbom.sarif import write_sarif
from patchwarden.sbom.spdx import write_spdx

pytestmark = pytest.mark.filterwarnings("ignore:The Component this BOM is describing")


@pytest.mark.parametrize(
    ("version", "schema"), [("1.5", SchemaVersion.V1_5), ("1.6", SchemaVersion.V1_6)]
)
@pytest.mark.parametrize("which", ["report", "sbom_report", "empty_report"])
def test_cyclonedx_validates(
    version: str, schema: SchemaVersion, which: str, request: pytest.FixtureRequest
) -> None:
    text = write_cyclonedx(request.getfixturevalue(which), version)
    error = JsonStrictValidator(schema).validate_str(text)
    assert error is None, getattr(error, "data", error)
    assert json.loads(text)["specVersion"] == version


def test_cyclonedx_content(report: ScanReport) -> None:
    bom = json.loads(write_cyclonedx(report))
    assert bom["metadata"]["component"]["type"] == "container"
    comps = {c["bom-ref"]: c for c in bom["components"]}
    assert any(c["type"] == "operating-system" for c in comps.values())
    # a repeated purl gets a unique bom-ref
    assert "pkg:pypi/requests@2.31.0" in comps
    assert any(ref.startswith("pkg:pypi/requests@2.31.0#") for ref in comps)
    scoped = next(c for c in comps.values() if c["name"] == "@babel/core")
    assert scoped["purl"] == "pkg:npm/%40babel/core@7.22.0"
    props = {p["name"]: p["value"] for p in scoped["properties"]}
    assert props["patchwarden:path"] == "app/node_modules/@babel/core/package.json"
    assert props["patchwarden:layer"].startswith("sha256:2")
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert vulns["CVE-2023-45853"]["analysis"]["response"] == ["will_not_fix"]
    assert vulns["CVE-2024-0001"]["ratings"][0]["severity"] == "critical"
    assert vulns["CVE-2024-0001"]["ratings"][0]["score"] == 9.8
    assert len(vulns["CVE-2024-35195"]["affects"]) == 2
    assert set(comps) >= {a["ref"] for v in vulns.values() for a in v["affects"]}


@pytest.mark.parametrize("which", ["report", "sbom_report", "empty_report"])
def test_spdx_validates(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(write_spdx(request.getfixturevalue(which)), encoding="utf-8")
    doc = parse_file(str(path))
    messages = validate_full_spdx_document(doc)
    assert messages == [], [m.validation_message for m in messages]


def test_spdx_content(report: ScanReport) -> None:
    data = json.loads(write_spdx(report, namespace_id="fixed"))
    assert data["spdxVersion"] == "SPDX-2.3"
    names = {p["name"]: p for p in data["packages"]}
    assert names["registry.example/app:1.0"]["primaryPackagePurpose"] == "CONTAINER"
    assert (
        names["debian"]["primaryPackagePurpose"] == "OPERATING_SYSTEM"
    )  # as in the 2.3 JSON schema
    ref = names["@babel/core"]["externalRefs"][0]
    assert (ref["referenceCategory"], ref["referenceType"], ref["referenceLocator"]) == (
        "PACKAGE_MANAGER",  # the 2.3 JSON schema allows both spellings
        "purl",
        "pkg:npm/%40babel/core@7.22.0",
    )
    rels = {(r["spdxElementId"], r["relationshipType"]) for r in data["relationships"]}
    assert ("SPDXRef-DOCUMENT", "DESCRIBES") in rels and ("SPDXRef-Image", "CONTAINS") in rels
    contained = [r for r in data["relationships"] if r["relationshipType"] == "CONTAINS"]
    assert len(contained) == 7  # six packages and the OS
    assert "pÿthön-ünïcode" in names


_TEXT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "shortDescription": _TEXT,
                                                "fullDescription": _TEXT,
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {
                                                        "level": {
                                                            "enum": [
                                                                "none",
                                                                "note",
                                                                "warning",
                                                                "error",
                                                            ]
                                                        }
                                                    },
                                                },
                                            },
                                        },
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId"],
                            "properties": {
                                "message": _TEXT,
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                    }
                                                },
                                            }
                                        },
                                    },
                                },
                                "suppressions": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["kind"],
                                        "properties": {"kind": {"enum": ["inSource", "external"]}},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


@pytest.mark.parametrize("which", ["report", "sbom_report", "empty_report"])
def test_sarif_shape(which: str, request: pytest.FixtureRequest) -> None:
    data = json.loads(write_sarif(request.getfixturevalue(which)))
    jsonschema.validate(data, SARIF_SUBSET)
    run = data["runs"][0]
    for result in run["results"]:  # ruleIndex points at the rule of the same id
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_content(report: ScanReport) -> None:
    run = json.loads(write_sarif(report))["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules)) == 7  # one rule per id (CVE-2024-35195 twice -> once)
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["CVE-2024-0001"]["level"] == "error"
    assert by_rule["CVE-2024-0002"]["level"] == "warning"
    assert by_rule["GHSA-67hx-6x53-jw92"]["level"] == "note"
    loc = by_rule["CVE-2024-0001"]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "var/lib/dpkg/status"
    assert "upgrade to 3.0.13-1~deb12u1" in by_rule["CVE-2024-0001"]["message"]["text"]
    assert by_rule["CVE-2022-37434"]["suppressions"][0]["kind"] == "external"
    assert len(run["results"]) == 8
