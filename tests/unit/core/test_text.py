"""Terminal controls from image content never reach a terminal as controls."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from patchwarden.core.text import printable


def test_controls_made_visible_newlines_and_tabs_kept() -> None:
    evil = "libc\x1b]0;pwned\x07\x1b[2J\u202eexe.txt\x9b31m\nnext\tcol"
    shown = printable(evil)
    assert shown == "libc\\x1b]0;pwned\\x07\\x1b[2J\\u202eexe.txt\\x9b31m\nnext\tcol"
    assert printable("plain é ü 中") == "plain é ü 中"


def test_scan_table_and_cli_escape_strip_controls() -> None:
    from patchwarden.cli.common import escape
    from patchwarden.sbom import ReportFormat, render
    from patchwarden.sbom.model import ScanReport
    from patchwarden.scan.model import ImageInfo, Package, PackageType, ScanInventory

    pkg = Package(
        name="evil\x1b[2J",
        version="1\x1b]0;title\x07",
        type=PackageType.DEB,
        purl="pkg:deb/debian/evil@1",
        layer="sha256:" + "0" * 64,
        path="var/lib/dpkg/status",
    )
    info = ImageInfo(name="img\x1bc", digest=None, platform=None, layers=())
    report = ScanReport(ScanInventory(info, None, (pkg,), ()), (), datetime.now(UTC), "0")
    text = render(report, ReportFormat.table)
    assert "\x1b" not in text and "\x07" not in text
    assert "img\\x1bc" in text
    assert "\x1b" not in escape("tag\x1b[31m")


def test_inventory_table_shows_a_hostile_file_name_inertly(tmp_path: Path) -> None:
    import subprocess
    import sys

    evil = tmp_path / "x\x1b]0;pwned\x07.Dockerfile"
    evil.write_text("FROM nginx:1.25\n")
    proc = subprocess.run(
        [sys.executable, "-m", "patchwarden.cli.main", "inventory", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_COLOR": "1", "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "nginx:1.25" in proc.stdout
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "x\\x1b]0;pwned\\x07.Dockerfile" in proc.stdout
