from __future__ import annotations

import os
from pathlib import Path

import pytest

from patchwarden.core.files import write_atomic


def test_a_new_file_gets_the_umask_mode_not_the_temp_files_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "report.json", "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "report.json").read_text() == "{}\n"
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == 0o644


def test_a_replaced_file_keeps_its_mode_and_an_explicit_mode_wins(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM a\r\n")
    path.chmod(0o640)
    write_atomic(path, "FROM b\r\n")
    assert path.read_bytes() == b"FROM b\r\n"  # newlines untouched
    assert path.stat().st_mode & 0o777 == 0o640
    write_atomic(path, b"x", mode=0o600)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(path, 42)  # type: ignore[arg-type]  # on purpose: fails mid-write
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
