"""Which images ``serve``'s ``scan`` job reads: the current image of every reference, once
per digest. A reference whose check recorded no digest (an outdated tag: its check resolved
only the candidate) has the digest its tag names now resolved, once per tag. Real SQLite
state store (fleet rows, stored SBOMs) and real advisory records; the registry and the
image reads are counting stand-ins (testkit.sbom_pipeline; tests/integration/
test_serve_refresh.py resolves and reads real images from a real registry)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.config.schema import Config
from patchwarden.service.sbomjobs import fleet_images, run_scan
from patchwarden.store import open_store
from patchwarden.store.fleet import FleetItem, FleetStore
from patchwarden.store.sboms import SbomStore
from testkit.sbom_pipeline import CountingPipeline

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "osv"
D = {n: f"sha256:{n * 64}" for n in "abcd"}
TAGS = {"r.example/b:1.0": D["b"], "r.example/c:2": D["a"]}  # what the registry serves now


def item(key: str, repo: str, tag: str | None, digest: str | None, status: str) -> FleetItem:
    return FleetItem(
        key=key,
        source=key,
        image=repo,
        repository=repo,
        status=status,
        update_kind=None,
        current_tag=tag,
        current_digest=digest,
        candidate_tag=None,
        candidate_digest=None,
        reason="",
        checked_at=datetime.now(UTC),
    )


FLEET = [
    item("file:a/Dockerfile:1", "r.example/a", "1", D["a"], "up-to-date"),
    item("file:b/Dockerfile:1", "r.example/b", "1.0", None, "outdated"),  # resolved: D[b]
    item("file:b/Dockerfile:2", "r.example/b", "1.0", None, "outdated"),  # the same tag: asked once
    item(
        "file:c/Dockerfile:1", "r.example/c", "2", None, "outdated"
    ),  # resolves to D[a]: read once
    item("file:e/Dockerfile:1", "r.example/e", "3", None, "error"),  # its check failed: left alone
    item("file:g/Dockerfile:1", "r.example/gone", "4", None, "outdated"),  # the tag is gone now
    item("container:web", "r.example/d", "5", D["d"], "up-to-date"),
    item("container:old", "r.example/x", "6", None, "outdated"),  # a container is never resolved
]


def test_every_reference_s_current_image_once_per_digest_containers_first() -> None:
    reg = CountingPipeline(TAGS)
    images, failed = fleet_images(FLEET, 100, reg.resolve)
    assert images == [
        (D["d"], f"r.example/d@{D['d']}"),
        (D["a"], f"r.example/a@{D['a']}"),
        (D["b"], f"r.example/b@{D['b']}"),
    ]
    assert reg.asked == ["r.example/b:1.0", "r.example/c:2", "r.example/gone:4"]  # once per tag
    assert failed == [("r.example/gone:4", "r.example/gone:4: manifest unknown")]
    assert fleet_images(FLEET, 2, reg.resolve)[0] == images[:2]  # ``max``: resolving stops


def test_the_scan_job_reads_an_outdated_reference_s_current_image(tmp_path: Path) -> None:
    db = tmp_path / "advisories.db"
    with AdvisoryIndex(db, create=True) as index:
        assert import_sources(index, [str(FIXTURES / "Debian")]).added
    pipeline = CountingPipeline(TAGS)
    with open_store(str(tmp_path / "s.db")) as store:
        fleet = FleetStore(store.engine)
        fleet.save_results(FLEET)
        ctx: Any = SimpleNamespace(
            config=Config.model_validate({"advisories": {"db_path": str(db)}}),
            fleet=fleet,
            history=store,
            sboms=SbomStore(store.engine),
            scan_pipeline=lambda: pipeline,
        )
        res = run_scan(ctx, {})
        assert sorted(pipeline.reads) == sorted(f"r.example/{r}@{D[r]}" for r in "abd")
        assert res.data["scanned"] == [
            f"r.example/d@{D['d']}",
            f"r.example/a@{D['a']}",
            f"r.example/b@{D['b']}",
        ]
        assert res.data["failed"] == [["r.example/gone:4", "r.example/gone:4: manifest unknown"]]
        assert "3 images scanned" in res.summary and "1 failed (r.example/gone:4" in res.summary
        assert ctx.sboms.versions([D["b"]]).keys() == {D["b"]}

        again = run_scan(ctx, {"repositories": ["r.example/b"]})
        assert len(pipeline.reads) == 3  # stored with this index version: not read again
        assert again.summary.startswith("0 images scanned, 1 already stored")
