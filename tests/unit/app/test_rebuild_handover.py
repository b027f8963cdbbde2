"""rebuild --then: which references get which pin, and how exit codes combine; the OCI
annotations of an engine build."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from patchwarden.app.rebuild.handover import (
    Handover,
    Then,
    combined_exit,
    pin_results,
    pushed_builds,
)
from patchwarden.app.rebuild.model import BuildResult, Outcome
from patchwarden.core.ref import parse_reference
from patchwarden.errors import ExitCode, PatchwardenError
from patchwarden.refs.model import Inventory, Reference, RefKind

DEST = "registry.example.com/team/app"
NEW = "sha256:" + "b" * 64
OLD = "sha256:" + "a" * 64


def _ref(image: str, line: int) -> Reference:
    return Reference("compose.yaml", line, RefKind.COMPOSE, image, parse_reference(image))


def _built(outcome: Outcome = Outcome.PUSHED, name: str = "app") -> BuildResult:
    return BuildResult(
        name,
        DEST,
        outcome,
        "r",
        digest=NEW if outcome == Outcome.PUSHED else None,
        tags=("1.0-20261202.2", "latest") if outcome == Outcome.PUSHED else (),
    )


def test_pins_keep_moving_tags_and_move_old_immutable_tags() -> None:
    refs = (
        _ref(f"{DEST}:latest", 1),
        _ref(f"{DEST}:latest@{OLD}", 2),
        _ref(f"{DEST}:1.0-20261201.1", 3),
        _ref(f"{DEST}:1.0-20261202.2@{NEW}", 4),  # already this build: nothing to write
        _ref(f"{DEST}", 5),
        _ref("registry.example.com/team/other:latest", 6),
        _ref("docker.io/library/python:3.12", 7),
    )
    results = pin_results(Inventory(refs, ()), [_built()])
    got = {r.reference.line: (r.candidate.tag, r.candidate.digest) for r in results if r.candidate}
    assert got == {
        1: ("latest", NEW),
        2: ("latest", NEW),
        3: ("1.0-20261202.2", NEW),
        5: (None, NEW),
    }
    assert all(r.reason == "rebuilt by patchwarden rebuild (app)" for r in results)


def test_only_pushed_builds_are_handed_over() -> None:
    results = [_built(), _built(Outcome.STOPPED, "b"), _built(Outcome.NOT_DUE, "c")]
    assert [r.name for r in pushed_builds(results)] == ["app"]


def _h(code: ExitCode) -> Handover:
    return Handover(Then.rollout, "app", code == ExitCode.OK, "x", code)


@pytest.mark.parametrize(
    ("outcomes", "codes", "expected"),
    [
        ([Outcome.PUSHED], [ExitCode.OK], ExitCode.OK),
        ([Outcome.PUSHED], [ExitCode.PENDING], ExitCode.PENDING),
        ([Outcome.PUSHED], [ExitCode.SKIPPED, ExitCode.PENDING], ExitCode.PENDING),
        ([Outcome.PUSHED], [ExitCode.SKIPPED], ExitCode.SKIPPED),
        ([Outcome.PUSHED, Outcome.STOPPED], [ExitCode.PENDING], ExitCode.FINDINGS),
        ([Outcome.PUSHED, Outcome.STOPPED], [ExitCode.ERRORS], ExitCode.ERRORS),
        ([Outcome.FAILED], [], ExitCode.ERRORS),
        ([Outcome.NOT_DUE], [], ExitCode.OK),
    ],
)
def test_exit_codes_combine_errors_first(
    outcomes: list[Outcome], codes: list[ExitCode], expected: ExitCode
) -> None:
    results = [_built(o, f"b{i}") for i, o in enumerate(outcomes)]
    results[0] = replace(results[0], then=tuple(_h(c) for c in codes))
    assert combined_exit(results) == expected


def test_annotations_are_written_into_the_layout_manifest(tmp_path: Path) -> None:
    """rebuild --engine: the classic build API sets labels only; the OCI annotations go into
    the saved layout's manifest, and the index names the new digest."""
    from patchwarden.app.rebuild.engine_tools import annotate_layout
    from patchwarden.core.digest import Digest
    from patchwarden.devtools.oci_builder import build_image

    old = build_image(tmp_path, "build", files={"a": b"b"})
    notes = {"org.opencontainers.image.base.name": "r.example/base:1"}
    new = annotate_layout(tmp_path, "build", notes)
    assert new != old
    index = json.loads((tmp_path / "index.json").read_text())
    (entry,) = [m for m in index["manifests"] if m["digest"] == new]
    raw = (tmp_path / "blobs" / "sha256" / new.split(":")[1]).read_bytes()
    assert str(Digest.of(raw)) == new and entry["size"] == len(raw)
    assert json.loads(raw)["annotations"] == notes
    with pytest.raises(PatchwardenError, match="no image tagged other"):
        annotate_layout(tmp_path, "other", notes)
