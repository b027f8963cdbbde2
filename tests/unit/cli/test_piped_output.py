"""Output through a real pipe (the CLI in its own process, stdout a pipe, no COLUMNS): no box
characters, no trailing spaces, a reference never split across lines, a long reason whole on
one line under its row; ``--format json`` is unaffected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.store import UpdateRecord, open_store

LONG = "registry.example.com:5000/platform/team-payments/services/checkout-frontend-api"
BOX = re.compile("[\u2500-\u257f]")


def _piped(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "patchwarden.cli.main", *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,  # stdout is a pipe, as in `patchwarden ... | grep`
        text=True,
        timeout=120,
        check=False,
    )


def _plain(text: str) -> None:
    assert not BOX.search(text), text
    assert all(line == line.rstrip() for line in text.splitlines()), "trailing spaces"


def test_inventory_piped(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {LONG}:1.25.3-alpine3.18-with-a-long-suffix\nFROM ${{BASE_IMAGE_FROM_A_BUILD_ARG}}\n"
    )
    run = _piped("inventory", ".", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    _plain(run.stdout)
    lines = run.stdout.splitlines()
    row = next(line for line in lines if line.startswith("Dockerfile:1 "))
    assert f"{LONG}:1.25.3-alpine3.18-with-a-long-suffix" in row  # whole, on the row's line
    skipped = lines.index(next(line for line in lines if line.startswith("Dockerfile:2 ")))
    reason = lines[skipped + 1]
    assert reason.startswith("    ") and len(reason) > 80, "the reason under its row, unfolded"
    as_json = _piped("inventory", ".", "-f", "json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["references"][0]["image"].startswith(LONG)


def test_check_piped_keeps_references_and_reasons_whole(tmp_path: Path) -> None:
    image = "127.0.0.1:9/" + LONG.split("/", 1)[1]
    (tmp_path / "Dockerfile").write_text(f"FROM {image}:1.0.0\n")
    run = _piped("check", ".", "--no-cache", cwd=tmp_path)
    assert run.returncode == 3, run.stderr
    _plain(run.stdout)
    lines = run.stdout.splitlines()
    i = next(n for n, line in enumerate(lines) if image in line)
    assert lines[i + 1].startswith("    ") and "127.0.0.1:9" in lines[i + 1]
    assert lines[i + 2].startswith(("Up to", "1 reference")), "the reason is one line"


def test_engine_history_piped(tmp_path: Path) -> None:
    why = "healthy (http://127.0.0.1:18080/health answered 200 after 1.2s; the container kept running 3s)"
    with open_store(str(tmp_path / "s.db")) as store:
        store.record(
            UpdateRecord(
                id=None,
                started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                finished_at=None,
                container="checkout",
                from_image=f"{LONG}:1.0.0",
                from_digest="sha256:" + "a" * 64,
                to_image=f"{LONG}:1.0.1",
                to_digest="sha256:" + "b" * 64,
                outcome="updated",
                reason=why,
                gates={},
                duration_s=4.0,
                action="update",
            )
        )
    run = _piped("engine", "history", "--state", str(tmp_path / "s.db"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    _plain(run.stdout)
    header, row, reason = run.stdout.splitlines()
    assert header.split() == ["TIME", "CONTAINER", "ACTION", "FROM", "TO", "OUTCOME"]
    assert f"{LONG}:1.0.0@" in row and f"{LONG}:1.0.1@" in row and row.endswith("updated")
    assert reason == f"    {why}"
