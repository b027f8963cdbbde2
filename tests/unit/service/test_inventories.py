"""The inventory kept between ``check`` tasks: reused while no file under the PATHs changed,
read again after any change (an edit of the same size, a new file, a removed one)."""

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
