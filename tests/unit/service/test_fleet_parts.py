"""What a worker fleet splits and keeps: the inventory kept between ``check`` tasks (reused
while no file under the PATHs changed, read again after any change), a whole-fleet ``scan``
queued in parts."""

from __future__ import annotations

import os
from pathlib import Path

from patchwarden.config.schema import Config
from patchwarden.service.inventories import InventoryCache


def test_the_inventory_is_reused_until_a_file_changes(tmp_path: Path) -> None:
    cfg = Config()
    (tmp_path / "a").mkdir()
    df = tmp_path / "a" / "Dockerfile"
    df.write_text("FROM nginx:1.25\n")
    cache = InventoryCache()
    first = cache.get([tmp_path], cfg)
    assert [r.ref.name for r in first.references] == ["docker.io/library/nginx"]
    assert cache.get([tmp_path], cfg) is first  # nothing changed: not parsed again

    df.write_text("FROM redis:7.22\n")  # same size
    st = df.stat()
    os.utime(df, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second = cache.get([tmp_path], cfg)
    assert second is not first
    assert [r.ref.name for r in second.references] == ["docker.io/library/redis"]

    (tmp_path / "b.Dockerfile").write_text("FROM alpine:3.20\n")
    third = cache.get([tmp_path], cfg)
    assert len(third.references) == 2
    df.unlink()
    assert [r.ref.name for r in cache.get([tmp_path], cfg).references] == [
        "docker.io/library/alpine"
    ]
    assert cache.get([tmp_path], Config()) is not None  # another configuration: read again


def test_a_whole_fleet_scan_is_queued_in_parts_of_repositories_with_known_images() -> None:
    from types import SimpleNamespace
    from typing import Any

    from patchwarden.service.fanout import FanOutScan
    from patchwarden.service.runner import Trigger

    queued: list[tuple[str, Trigger]] = []

    def item(repo: str, digest: str | None, tag: str | None, status: str = "outdated") -> Any:
        key = f"file:{repo}:1"
        return SimpleNamespace(
            key=key, repository=repo, current_digest=digest, current_tag=tag, status=status
        )

    items = [item(f"reg/app{i % 5}", None if i == 9 else "d", None) for i in range(10)] + [
        item("reg/outdated", None, "1.0"),  # its current image: the tag's digest, resolved
        item("reg/failed", None, "1.0", "error"),  # its check failed: nothing to scan
        item("reg/unresolved", None, None),
    ]
    ctx: Any = SimpleNamespace(
        submit=lambda job, t: queued.append((job, t)),
        fleet=SimpleNamespace(fleet=lambda limit: items),
    )
    ran: list[Trigger] = []

    def scan(t: Trigger) -> str:
        ran.append(t)
        return "ran"

    fan = FanOutScan(ctx, scan, 2)
    summary = fan(Trigger("schedule", "due"))
    assert summary == "6 repositories with known images: 3 scan tasks queued"
    assert [j for j, _ in queued] == ["scan"] * 3
    assert [sorted(t.repositories or ()) for _, t in queued] == [
        ["reg/app0", "reg/app1"],
        ["reg/app2", "reg/app3"],
        ["reg/app4", "reg/outdated"],
    ]
    assert queued[0][1].detail == "due (part 1/3)" and ran == []
    scoped = Trigger("hook", "", frozenset({"reg/app1"}))
    assert fan(scoped) == "ran" and ran == [scoped]  # a part runs the scan itself
