"""Start-up cost is part of every command: only the command being run is imported, and a scan
without a config file or ignore file does not load pydantic, ruamel.yaml or httpx.

Checked in a fresh interpreter (``sys.modules`` after ``--help`` / a real ``--rootfs`` scan),
so an import added at module level anywhere on the path fails here rather than quietly adding
tens of milliseconds to every run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from patchwarden.cli.main import COMMANDS, build_app, requested_command

PROBE = """
import json, sys
sys.argv = ["patchwarden", *json.loads(sys.argv[1])]
from patchwarden.cli.main import main
try:
    main()
except SystemExit:
    pass
print("MODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""
HEAVY = ("pydantic", "ruamel.yaml", "httpx", "sqlalchemy", "docker", "univers", "cyclonedx")


def probe(code: str, args: list[str], cwd: Path, prefix: str) -> tuple[int, str]:
    """Run ``code`` (which runs ``main`` with ``args``) in a fresh interpreter; its exit code
    and the stderr line it printed after ``prefix``."""
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith(prefix)]
    assert line, proc.stderr
    return proc.returncode, line[0].removeprefix(prefix)


def loaded(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    code, modules = probe(PROBE, args, cwd, "MODULES=")
    return code, set(json.loads(modules))


def test_requested_command() -> None:
    assert requested_command(["scan", "--help"]) == "scan"
    assert requested_command(["--version"]) is None
    assert requested_command(["-h"]) is None
    assert requested_command(["nope", "x"]) is None  # unknown: the full app says so
    assert requested_command(["db", "status"]) == "db"


def test_build_app_registers_only_what_is_asked() -> None:
    full = build_app()
    names = {c.name for c in full.registered_commands} | {g.name for g in full.registered_groups}
    assert names == set(COMMANDS)
    one = build_app(["scan"])
    assert [c.name for c in one.registered_commands] == ["scan"]
    assert one.registered_groups == []


def test_scan_help_imports_only_scan(tmp_path: Path) -> None:
    _, mods = loaded(["scan", "--help"], tmp_path)
    others = {m for m in COMMANDS.values() if m != "patchwarden.cli.scan"}
    assert "patchwarden.cli.scan" in mods
    assert not (others & mods), others & mods
    assert not {m for m in mods if m.split(".")[0] in HEAVY or m.startswith(HEAVY)}


def test_rootfs_scan_without_config_stays_lean(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=alpine\nVERSION_ID=3.19.1\n")
    args = ["scan", "--rootfs", str(root), "--sbom-only", "--format", "json", "--no-cache"]
    args.append("--no-progress")  # (the default asks rich whether stderr is a terminal)
    code, mods = loaded(args, tmp_path)
    assert code == 0
    heavy = sorted(m for m in mods if m.startswith(HEAVY))
    assert heavy == [], heavy
    assert "rich.console" not in mods  # JSON to a pipe never prints through rich


@pytest.mark.parametrize("name", ["patchwarden.yaml", ".patchwarden.yml"])
def test_scan_with_a_config_file_loads_and_validates_it(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("cache:\n  nope: 1\n")
    root = tmp_path / "rootfs"
    root.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "patchwarden.cli.main",
            "scan",
            "--rootfs",
            str(root),
            "--sbom-only",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "cache.nope" in proc.stderr


FREEZE_PROBE = """
import gc, json, sys
sys.argv = ["patchwarden", *json.loads(sys.argv[1])]
from patchwarden.cli.main import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print("FROZEN=%d CODE=%s" % (gc.get_freeze_count(), code), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["rollout", "list", "--state", "{state}"]])
def test_the_objects_alive_at_exit_are_frozen_so_the_last_collection_skips_them(
    args: list[str], tmp_path: Path
) -> None:
    """The interpreter's full collection at exit took ~0.5 s with the store, engine and HTTP
    modules loaded; ``main`` moves what is alive to the permanent generation first, whether
    the command succeeded or not."""
    argv = [a.replace("{state}", str(tmp_path / "s.db")) for a in args]
    _, found = probe(FREEZE_PROBE, argv, tmp_path, "FROZEN=")
    frozen, code = found.split()
    assert code == "CODE=0", found
    assert int(frozen) > 10_000
