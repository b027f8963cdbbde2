"""Hostile inputs, end to end: each case asserts the error, the exit code and the peak memory
of the CLI process that handled it (bound: FACTOR x an honest scan, see conftest.py)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import tarfile
import zlib
from pathlib import Path

import pytest

from patchwarden.devtools.hostile_registry import BlackHole, HostileRegistry
from patchwarden.devtools.oci_builder import sha256
from testkit.hostile_helpers import (
    Run,
    dpkg_status,
    hardlink,
    oci_layout,
    reg,
    run_cli,
    tar_of,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
BOMB = "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 10) if p else ','.join(['x'] * 10)}]\n"
    for p, n in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def _scan(work: Path, *extra: str, env: dict[str, str] | None = None) -> Run:
    args = ["scan", "--oci-layout", "img:hostile", "-f", "json", "--no-cache", *extra]
    if "--db" not in extra:
        args.append("--sbom-only")
    return run_cli(*args, cwd=work, env=env)


def _within(run: Run, bound: float) -> None:
    assert run.peak_mib <= bound, f"peak {run.peak_mib:.0f} MiB > bound {bound:.0f} MiB"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("db")
    run = run_cli("db", "import", str(FIXTURES / "Debian"), "--db", "adv.db", cwd=work)
    assert run.code == 0, run.stderr
    return work / "adv.db"


# -- YAML -------------------------------------------------------------------------------


def test_anchor_bomb_in_config(tmp_path: Path, bound: float) -> None:
    (tmp_path / "patchwarden.yaml").write_text(BOMB)
    (tmp_path / "Dockerfile").write_text("FROM nginx:1.25\n")
    run = run_cli("check", ".", "-f", "json", cwd=tmp_path)
    assert run.code == 2, run.stderr
    assert "more than 100000 values after expanding aliases" in run.stderr
    _within(run, bound)


def test_anchor_bomb_in_ignore_file(tmp_path: Path, index: Path, bound: float) -> None:
    oci_layout(tmp_path / "img", [gzip.compress(tar_of([reg("etc/x", b"x")]))])
    (tmp_path / ".patchwarden-vulnignore.yaml").write_text("ignore: []\n" + BOMB)
    run = _scan(tmp_path, "--db", str(index))
    assert run.code == 2, run.stderr
    assert "expanding aliases" in run.stderr
    _within(run, bound)


# -- layers -----------------------------------------------------------------------------


def test_decompression_bomb(tmp_path: Path, bound: float) -> None:
    """128 MiB of zeros in a 128 KiB blob, against a 32 MiB layer limit."""
    info = tarfile.TarInfo("zeros")
    info.size = 128 * 1024 * 1024
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [comp.compress(info.tobuf(tarfile.PAX_FORMAT))]
    chunk = bytes(1 << 20)
    parts += [comp.compress(chunk) for _ in range(128)]
    parts.append(comp.flush())
    blob = b"".join(parts)
    assert len(blob) < 1024 * 1024
    oci_layout(tmp_path / "img", [blob], diff_ids=["sha256:" + "0" * 64])
    run = _scan(tmp_path, env={"PATCHWARDEN_SCAN_MAX_LAYER_BYTES": str(32 * 1024 * 1024)})
    assert run.code == 3, run.stderr
    assert "possible decompression bomb" in run.stderr
    _within(run, bound)


def test_tar_entry_claiming_a_terabyte(tmp_path: Path, bound: float) -> None:
    info = tarfile.TarInfo("big")
    info.size = 1 << 40
    raw = info.tobuf(tarfile.GNU_FORMAT)
    oci_layout(tmp_path / "img", [gzip.compress(raw)], diff_ids=[sha256(raw)])
    run = _scan(tmp_path)
    assert run.code == 3, run.stderr
    assert "claims 1099511627776 bytes" in run.stderr
    _within(run, bound)


@pytest.mark.parametrize("name", ["../../../etc/cron.d/evil", "/etc/../../evil", "a/../../b"])
def test_path_traversal(tmp_path: Path, bound: float, name: str) -> None:
    oci_layout(tmp_path / "img", [gzip.compress(tar_of([reg(name, b"* * * * * root id\n")]))])
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    run = _scan(tmp_path)
    assert run.code == 3, run.stderr
    assert "refused" in run.stderr
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before
    _within(run, bound)


def test_hard_links_to_a_package_database(tmp_path: Path, bound: float) -> None:
    """A 0.9 MiB status.d file and 100 hard links to it: catalogued once (each link was
    catalogued again in full: 400 links ended in MemoryError at 9.7 GB)."""
    status = dpkg_status(8000)
    assert 512 * 1024 < len(status) < 1024 * 1024
    base = "var/lib/dpkg/status.d/base"
    members = [reg(base, status)]
    members += [hardlink(f"var/lib/dpkg/status.d/l{i}", base) for i in range(60)]
    members += [hardlink(f"var/lib/dpkg/info/l{i}.list", base) for i in range(40)]
    oci_layout(tmp_path / "img", [gzip.compress(tar_of(members))])
    run = _scan(tmp_path)
    assert run.code == 0, run.stderr[-2000:]
    packages = run.json()["packages"]
    assert len(packages) == 8000
    assert {p["path"] for p in packages} == {base}
    _within(run, bound)


def test_many_wanted_executables_are_not_kept(tmp_path: Path, bound: float) -> None:
    """200 executables of 1 MiB (compressing to almost nothing) were all kept in memory."""
    body = bytes(1024 * 1024)
    members = [reg(f"usr/bin/tool{i}", body, 0o755) for i in range(200)]
    oci_layout(tmp_path / "img", [gzip.compress(tar_of(members), 1)])
    run = _scan(tmp_path)
    assert run.code == 0, run.stderr[-2000:]
    _within(run, bound)


def test_package_database_bomb(tmp_path: Path, bound: float) -> None:
    para = "".join(
        f"Package: p{i}\nVersion: 1\nStatus: install ok installed\n\n" for i in range(60_000)
    )
    oci_layout(
        tmp_path / "img", [gzip.compress(tar_of([reg("var/lib/dpkg/status", para.encode())]))]
    )
    run = _scan(tmp_path)
    assert run.code == 3, run.stderr
    assert "var/lib/dpkg/status: more than 50000 packages" in run.stderr
    _within(run, bound)


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        (slice(100, 108), b"zzzzzzz\0", "mode"),
        (slice(124, 136), b"\x80" + b"\xff" * 11, "size"),
    ],
)
def test_malformed_tar_header_names_the_layer(
    tmp_path: Path, bound: float, field: slice, value: bytes, what: str
) -> None:
    raw = bytearray(tar_of([reg("etc/x", b"x" * 10)]))
    off = raw.find(b"etc/x")  # the ustar header after the PAX one (if any)
    hdr = off - off % 512
    raw[hdr + field.start : hdr + field.stop] = value
    raw[hdr + 148 : hdr + 156] = b" " * 8
    chk = sum(raw[hdr : hdr + 512])
    raw[hdr + 148 : hdr + 156] = f"{chk:06o}\0 ".encode()
    oci_layout(tmp_path / "img", [gzip.compress(bytes(raw))], diff_ids=[sha256(bytes(raw))])
    run = _scan(tmp_path)
    assert run.code == 3, run.stderr
    assert "layer sha256:" in run.stderr
    _within(run, bound)


def test_non_ascii_pax_size(tmp_path: Path, bound: float) -> None:
    info = tarfile.TarInfo("etc/x")
    info.size = 1
    info.pax_headers = {"size": "１２"}  # fullwidth digits: isdigit() but not a tar size
    raw = tar_of([(info, b"x")])
    oci_layout(tmp_path / "img", [gzip.compress(raw)], diff_ids=[sha256(raw)])
    run = _scan(tmp_path)
    assert run.code == 3, run.stderr
    assert "layer sha256:" in run.stderr
    _within(run, bound)


# -- file trees -------------------------------------------------------------------------


def test_symlink_loops(tmp_path: Path, bound: float) -> None:
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_bytes(dpkg_status(3))
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    (root / "var/loop").symlink_to("..")
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to("/etc/os-release/../../../etc/os-release")
    run = run_cli(
        "scan", "--rootfs", "root", "--sbom-only", "-f", "json", "--no-cache", cwd=tmp_path
    )
    assert run.code == 0, run.stderr
    assert len(run.json()["packages"]) == 3
    _within(run, bound)
    repo = tmp_path / "repo"
    (repo / "svc").mkdir(parents=True)
    (repo / "svc/Dockerfile").write_text("FROM redis:7\n")
    (repo / "svc/again").symlink_to("..")
    (repo / "patchwarden.yaml").write_text("discovery:\n  follow_symlinks: true\n")
    run = run_cli("inventory", ".", "-f", "json", cwd=repo)
    assert run.code == 0, run.stderr
    images = {r["image"] for r in json.loads(run.stdout)["references"]}
    assert images == {"redis:7"}
    _within(run, bound)


# -- registries -------------------------------------------------------------------------


def test_huge_tag_list(tmp_path: Path, bound: float) -> None:
    with HostileRegistry("huge-tags") as reg_:
        (tmp_path / "Dockerfile").write_text(f"FROM {reg_.host}/app:1.0.0\n")
        run = run_cli("check", ".", "-f", "json", "--no-cache", cwd=tmp_path)
    assert run.code == 3, run.stderr
    assert "limit" in run.stdout + run.stderr
    _within(run, bound)


def test_huge_manifest(tmp_path: Path, bound: float) -> None:
    with HostileRegistry("huge-manifest") as reg_:
        run = run_cli("scan", f"{reg_.host}/app:1", "--sbom-only", "--no-cache", cwd=tmp_path)
    assert run.code == 3, run.stderr
    assert "limit" in run.stderr
    _within(run, bound)


def _many_refs(work: Path, host: str, count: int = 6) -> None:
    (work / "Dockerfile").write_text("".join(f"FROM {host}/app{i}:1.0.0\n" for i in range(count)))


@pytest.mark.parametrize("where", ["flag", "env", "config", "host-config"])
def test_black_hole_registry_costs_one_timeout_per_run(
    tmp_path: Path, bound: float, where: str
) -> None:
    """A registry that accepts connections and never answers: the time limit comes from
    --timeout, PATCHWARDEN_TIMEOUT, the top-level timeout or registries.HOST.timeout, and the
    host is asked once in the run (one connection), not once per reference."""
    with BlackHole() as hole:
        _many_refs(tmp_path, hole.host)
        args, env = ["check", ".", "-f", "json", "--no-cache"], {}
        if where == "flag":
            args += ["--timeout", "1s"]
        elif where == "env":
            env["PATCHWARDEN_TIMEOUT"] = "0.8"
        elif where == "config":
            (tmp_path / "patchwarden.yaml").write_text("timeout: 1s\n")
        else:
            (tmp_path / "patchwarden.yaml").write_text(
                f"registries:\n  '{hole.host}':\n    timeout: {{connect: 1s, overall: 1s}}\n"
            )
        run = run_cli(*args, cwd=tmp_path, env=env, timeout=60)
        connections = hole.connections
    assert run.code == 3, run.stderr
    results = run.json()["results"]
    assert len(results) == 6 and all(r["status"] == "error" for r in results), results
    reasons = [r["reason"] for r in results]
    assert sum("not asked again" in r for r in reasons) == 5, reasons
    assert all("timeout" in r for r in reasons), reasons  # the hint names the settings
    assert connections == 1, f"{connections} connections: the dead host was asked again"
    _within(run, bound)


def test_dripping_registry_costs_one_deadline_per_run(tmp_path: Path, bound: float) -> None:
    """One byte every 0.2 s: within the read timeout, cut off by --timeout's overall limit;
    the other references are not asked for."""
    with HostileRegistry("drip-headers", drip=0.2, max_seconds=30) as drip:
        _many_refs(tmp_path, drip.host, 4)
        run = run_cli("check", ".", "-f", "json", "--no-cache", "--timeout", "1s", cwd=tmp_path)
        asked = [path for _, path in drip.requests if path.rstrip("/") != "/v2"]
    assert run.code == 3, run.stderr
    reasons = [r["reason"] for r in run.json()["results"]]
    assert sum("deadline" in r for r in reasons) == 4, reasons
    assert sum("not asked again" in r for r in reasons) == 3, reasons
    assert len(asked) == 1, asked
    _within(run, bound)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("timeout: 0s", "overall must be more than 0s"),
        ("timeout: {connect: 30s, overall: 10s}", "connect (0:00:30) is longer than overall"),
        ("timeout: 2h", "overall may be at most 1h"),
        ("timeout: {overal: 5s}", "overal"),
        ("timeout: soon", "invalid duration 'soon'"),
    ],
)
def test_timeout_settings_are_validated(tmp_path: Path, setting: str, message: str) -> None:
    (tmp_path / "patchwarden.yaml").write_text(f"registries:\n  r.example:\n    {setting}\n")
    (tmp_path / "Dockerfile").write_text("FROM r.example/app:1\n")
    run = run_cli("check", ".", "--no-cache", cwd=tmp_path)
    assert run.code == 2, run.stderr
    assert message in run.stderr and "registries.r.example.timeout" in run.stderr, run.stderr
    assert "patchwarden.yaml:3" in run.stderr, run.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "is out of range"), ("2h", "is out of range"), ("fast", "is not a duration")],
)
def test_timeout_flag_is_validated(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM r.example/app:1\n")
    run = run_cli("check", ".", "--timeout", value, cwd=tmp_path)
    assert run.code == 2 and f"--timeout {value!r} {message}" in run.stderr, run.stderr


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_registry_echoing_credentials(tmp_path: Path, bound: float, fmt: str) -> None:
    with HostileRegistry("echo") as reg_:
        prefix = "PATCHWARDEN_REGISTRY_" + reg_.host.replace(".", "_").replace(":", "_")
        env = {f"{prefix}_USERNAME": "robot", f"{prefix}_PASSWORD": "Tr0ub4dor&3xyz"}
        (tmp_path / "Dockerfile").write_text(f"FROM {reg_.host}/app:1.0.0\n")
        checked = run_cli("check", ".", "-f", fmt, "--no-cache", cwd=tmp_path, env=env)
        scanned = run_cli(
            "scan",
            f"{reg_.host}/app:1",
            "--sbom-only",
            "-f",
            fmt,
            "--no-cache",
            cwd=tmp_path,
            env=env,
        )
    for run in (checked, scanned):
        assert run.code == 3, run.stderr
        text = run.stdout + run.stderr
        assert "debug: got" in text  # the registry's words are shown ...
        for leak in ("Tr0ub4dor", "robot:Tr0", "cm9ib3Q6VHIwdWI0ZG9yJjN4eXo", "Tr0ub4dor%263xyz"):
            assert leak not in text  # ... never the password, in any form
        _within(run, bound)


# -- databases and caches ---------------------------------------------------------------


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("kind", ["empty", "foreign", "truncated", "garbage"])
def test_broken_advisory_index(tmp_path: Path, index: Path, bound: float, kind: str) -> None:
    oci_layout(
        tmp_path / "img", [gzip.compress(tar_of([reg("var/lib/dpkg/status", dpkg_status(2))]))]
    )
    db = tmp_path / "adv.db"
    if kind == "empty":
        db.write_bytes(b"")
    elif kind == "foreign":
        _foreign(db)
    elif kind == "truncated":
        data = index.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    else:
        db.write_bytes(os.urandom(64 * 1024))
    before = db.read_bytes()
    run = _scan(tmp_path, "--db", str(db), "--fail-on", "low")
    assert run.code == 3, (kind, run.stdout[-500:], run.stderr)
    assert "advisory index" in run.stderr
    assert "No vulnerabilities" not in run.stdout
    assert db.read_bytes() == before  # never written into
    _within(run, bound)


def test_corrupt_layer_cache_is_rebuilt(tmp_path: Path, bound: float) -> None:
    oci_layout(
        tmp_path / "img", [gzip.compress(tar_of([reg("var/lib/dpkg/status", dpkg_status(5))]))]
    )
    args = ("scan", "--oci-layout", "img:hostile", "--sbom-only", "-f", "json", "--cache-dir", "c")
    first = run_cli(*args, cwd=tmp_path)
    assert first.code == 0, first.stderr
    entries = sorted((tmp_path / "c").rglob("*.json"))
    assert entries
    for i, entry in enumerate(entries):
        entry.write_bytes([b'{"trunc', b"[" * 200_000 + b"]" * 200_000, b"\xff\xfe"][i % 3])
    again = run_cli(*args, cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert again.json()["packages"] == first.json()["packages"]
    _within(again, bound)
    shutil.rmtree(tmp_path / "c")


def test_rootfs_scan_shows_what_it_could_not_read() -> None:
    """Unreadable files and directories are warnings on stderr (they were collected and never
    shown). Root reads mode-000 files, so the scan runs as nobody in a world-readable dir."""
    import subprocess
    import sys
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="pw-rootfs-"))
    try:
        root = top / "root"
        (root / "var/lib/dpkg").mkdir(parents=True)
        (root / "var/lib/dpkg/status").write_bytes(dpkg_status(2))
        (root / "opt/secret").mkdir(parents=True)
        (root / "var/lib/dpkg/status.d").mkdir()
        (root / "var/lib/dpkg/status.d/locked").write_bytes(dpkg_status(1, "hidden"))
        (root / "var/lib/dpkg/status.d/locked").chmod(0)
        (root / "opt/secret").chmod(0)
        top.chmod(0o755)
        cmd = [sys.executable, "-m", "patchwarden.cli.main", "scan", "--rootfs", str(root)]
        cmd += ["--sbom-only", "--no-cache", "-f", "json"]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=top)
    finally:
        for p in (root / "opt/secret", root / "var/lib/dpkg/status.d/locked"):
            p.chmod(0o755)
        shutil.rmtree(top)
    assert proc.returncode == 0, proc.stderr
    assert "warning: cannot read directory /opt/secret: Permission denied" in proc.stderr
    assert "warning: cannot read /var/lib/dpkg/status.d/locked: Permission denied" in proc.stderr
    assert len(json.loads(proc.stdout)["packages"]) == 2


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_engine_url_password_is_never_printed(tmp_path: Path, fmt: str) -> None:
    url = "tcp://robot:S3cret%2FPw@127.0.0.1:9"
    run = run_cli("engine", "update", "--engine", url, "-f", fmt, "--state", "s.db", cwd=tmp_path)
    assert run.code != 0
    text = run.stdout + run.stderr
    assert "tcp://***@127.0.0.1:9" in text
    for leak in ("S3cret", "robot:S3", "cm9ib3Q6UzNjcmV0L1B3"):
        assert leak not in text
