"""Helpers for the cataloger tests: a stand-in for the layer reader and tool lookups."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from patchwarden.scan.model import Cataloger, FileEntry, FileFacts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scan"


def entry(path: str, data: bytes, mode: int = 0o644) -> FileEntry:
    return FileEntry(path=path, data=data, mode=mode, size=len(data))


def walk(cataloger: Cataloger, root: Path, prefix: str = "") -> dict[str, FileFacts]:
    """What the layer reader does for one layer: wants() on every regular file, then catalog()."""
    out: dict[str, FileFacts] = {}
    for dirpath, _dirs, files in os.walk(root):
        for fname in files:
            full = Path(dirpath) / fname
            st = full.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = prefix + full.relative_to(root).as_posix()
            mode = stat.S_IMODE(st.st_mode)
            if cataloger.wants(rel, mode, st.st_size):
                out[rel] = cataloger.catalog(FileEntry(rel, full.read_bytes(), mode, st.st_size))
    return out


def persistent_dir(config: pytest.Config, name: str) -> Path:
    """A directory kept across test runs (in .pytest_cache) for slow ground-truth setups."""
    return Path(config.cache.mkdir(f"patchwarden-catalogers-{name}"))
