"""The scan use case: target choice, ignore file, filters, exit codes (fake pipeline), and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from patchwarden.app.scan import (
    IgnoreFile,
    IgnoreRule,
    ScanOptions,
    ScanTarget,
    apply_filters,
    apply_ignores,
    choose_target,
    exit_code,
    parse_severities,
    run_scan,
)
from patchwarden.app.scan.ignore_file import IgnoreEntry, load_ignore_file
from patchwarden.app.scan.run import LayerProgress
from patchwarden.cli.main import app
from patchwarden.errors import ConfigError, ExitCode, UsageError
from patchwarden.registry.model import Platform
from patchwarden.scan.model import (
    Finding,
    FindingStatus,
    ImageInfo,
    ImageSource,
    OSInfo,
    Package,
    PackageType,
    ScanInventory,
    Severity,
)
from testkit.scanner_helpers import MemorySource

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PKG = Package(
    "libssl3",
    "3.0.11",
    PackageType.DEB,
    "pkg:deb/debian/libssl3@3.0.11",
    "sha256:1",
    "var/lib/dpkg/status",
    source_name="openssl",
)


def f(
    vid: str,
    sev: Severity,
    status: FindingStatus = FindingStatus.FIXED,
    aliases: tuple[str, ...] = (),
) -> Finding:
    return Finding(
        vid,
        aliases,
        PKG,
        "3.0.11",
        "3.0.13" if status == FindingStatus.FIXED else None,
        status,
        sev,
        "Debian:12",
    )


FINDINGS = [
    f("CVE-1", Severity.CRITICAL),
    f("CVE-2", Severity.HIGH, FindingStatus.NO_FIX),
    f("CVE-3", Severity.MEDIUM, FindingStatus.WILL_NOT_FIX, aliases=("GHSA-xxxx",)),
    f("CVE-4", Severity.LOW),
    f("CVE-5", Severity.LOW, FindingStatus.NOT_AFFECTED),
]


class FakePipeline:
    """A :class:`ScanPipeline` whose advisory index is a name (None: no index)."""

    def __init__(self, index: str | None = "index") -> None:
        self.index = index
        self.inv = ScanInventory(
            ImageInfo("img:1", None, "linux/amd64", ()), OSInfo("debian", "12"), (PKG,), ()
        )

    def open_source(self, target: ScanTarget, platform: Platform | None) -> ImageSource:
        return MemorySource([])  # never read: inventory() answers

    def inventory(self, source: ImageSource, progress: LayerProgress | None) -> ScanInventory:
        return self.inv

    def index_path(self, db: Path | None) -> Path:
        return db or Path("/default/advisories.db")

    def open_index(self, path: Path) -> str | None:
        return self.index

    def freshness(self, index: str) -> str | None:
        return None

    def match(self, index: str, inventory: ScanInventory) -> list[Finding]:
        return list(FINDINGS)


# --- target choice ---------------------------------------------------------------------------


def test_choose_target(tmp_path: Path) -> None:
    assert choose_target("nginx:1.25", None, None, None) == ScanTarget("registry", "nginx:1.25")
    assert choose_target(None, None, None, tmp_path).kind == "rootfs"
    with pytest.raises(UsageError, match="exactly one"):
        choose_target(None, None, None, None)
    with pytest.raises(UsageError, match="several"):
        choose_target("nginx", None, None, tmp_path)
    with pytest.raises(UsageError, match="not a file"):
        choose_target(None, tmp_path, None, None)
    with pytest.raises(UsageError, match="not a directory"):
        choose_target(None, None, tmp_path / "missing", None)


def test_choose_target_accepts_path_colon_tag(tmp_path: Path) -> None:
    """The hint for a layout or archive holding several images says "append :TAG"."""
    archive = tmp_path / "images.tar"
    archive.write_bytes(b"")
    got = choose_target(None, None, Path(f"{tmp_path}:app:1.0"), None)
    assert got == ScanTarget("oci-layout", f"{tmp_path}:app:1.0")
    got = choose_target(None, Path(f"{archive}:example.com:5000/app:1"), None, None)
    assert got == ScanTarget("archive", f"{archive}:example.com:5000/app:1")
    with pytest.raises(UsageError, match="not a directory") as exc:
        choose_target(None, None, Path(f"{tmp_path}/missing:app"), None)
    assert "[:TAG]" in (exc.value.hint or "")
    with pytest.raises(UsageError, match="not a directory"):
        choose_target(None, None, None, Path(f"{tmp_path}:x"))  # --rootfs takes no tag


def test_parse_severities() -> None:
    assert parse_severities("Critical, high,high") == (Severity.CRITICAL, Severity.HIGH)
    assert parse_severities(None) == ()
    with pytest.raises(UsageError, match="'severe'"):
        parse_severities("critical,severe")


# --- ignore file -----------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / ".patchwarden-vulnignore.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_ignore_file_parses_with_lines(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "version: 1\nignore:\n  - id: CVE-1\n    reason: not reachable\n"
        "    expires: 2026-12-31\n  - id: GHSA-xxxx\n    reason: ünïcode ok\n"
        "    expires: '2026-01-01'\n    package: openssl\n",
    )
    rules = load_ignore_file(p).rules
    assert [r.entry.id for r in rules] == ["CVE-1", "GHSA-xxxx"]
    assert rules[0].entry.expires == date(2026, 12, 31)
    assert rules[1].source == f"{p}:6"


def test_ignore_file_unknown_key_names_path_and_line(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "ignore:\n  - id: CVE-1\n    reason: x\n    expires: 2026-12-31\n"
        "  - id: CVE-2\n    reason: y\n    expire: 2026-12-31\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_ignore_file(p)
    msg = exc.value.message
    assert f"{p}:7: ignore[1].expire: unknown key 'expire'" in msg
    assert "allowed here: id, reason, expires, package" in msg
    assert "ignore[1].expires: Field required" in msg
    assert exc.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("ignores: []\n", "unknown key 'ignores'"),
        ("ignore:\n  - id: CVE-1\n    reason: x\n    expires: someday\n", "ignore[0].expires"),
        ("ignore: [\n", "malformed YAML"),
        ("- id: CVE-1\n", "top level must be a mapping"),
    ],
)
def test_ignore_file_errors(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as exc:
        load_ignore_file(write(tmp_path, text))
    assert needle in exc.value.message


def rule(vid: str, expires: date, package: str | None = None) -> IgnoreRule:
    return IgnoreRule(IgnoreEntry(id=vid, reason="r", expires=expires, package=package), "f:1")


def test_apply_ignores_expiry_alias_and_package() -> None:
    rules = [
        rule("CVE-1", date(2026, 6, 1)),  # last day: still applies
        rule("GHSA-xxxx", date(2027, 1, 1), package="openssl"),  # alias + source package
        rule("CVE-2", date(2026, 5, 31)),  # expired: ignores nothing, reported
        rule("CVE-4", date(2027, 1, 1), package="zlib1g"),  # other package
    ]
    out = apply_ignores(FINDINGS, rules, date(2026, 6, 1))
    assert [i.finding.id for i in out.ignored] == ["CVE-1", "CVE-3"]
    assert [x.id for x in out.kept] == ["CVE-2", "CVE-4", "CVE-5"]
    assert [r.entry.id for r in out.expired] == ["CVE-2"]


# --- filters and exit codes ------------------------------------------------------------------


def test_filters() -> None:
    shown, hidden = apply_filters(FINDINGS, (), False)
    assert [x.id for x in shown] == ["CVE-1", "CVE-2", "CVE-3", "CVE-4"] and hidden == 0
    shown, hidden = apply_filters(FINDINGS, (Severity.CRITICAL, Severity.HIGH), False)
    assert [x.id for x in shown] == ["CVE-1", "CVE-2"] and hidden == 2
    shown, hidden = apply_filters(FINDINGS, (), True)
    assert [x.id for x in shown] == ["CVE-1", "CVE-4"] and hidden == 2


def options(
    *,
    severities: tuple[Severity, ...] = (),
    ignore_unfixed: bool = False,
    ignore_file: IgnoreFile | None = None,
    sbom_only: bool = False,
) -> ScanOptions:
    return ScanOptions(
        target=ScanTarget("registry", "img:1"),
        severities=severities,
        ignore_unfixed=ignore_unfixed,
        ignore_file=ignore_file,
        sbom_only=sbom_only,
    )


@pytest.mark.parametrize(
    ("fail_on", "opts", "code"),
    [
        (None, options(), ExitCode.OK),
        (Severity.CRITICAL, options(), ExitCode.FINDINGS),
        (Severity.HIGH, options(severities=(Severity.LOW,)), ExitCode.OK),  # hidden never fails
        (Severity.HIGH, options(ignore_unfixed=True), ExitCode.FINDINGS),  # CVE-1 is fixable
        (Severity.MEDIUM, options(severities=(Severity.MEDIUM, Severity.LOW)), ExitCode.FINDINGS),
        (Severity.UNKNOWN, options(severities=(Severity.LOW,)), ExitCode.FINDINGS),
    ],
)
def test_exit_code(fail_on: Severity | None, opts: ScanOptions, code: ExitCode) -> None:
    report = run_scan(FakePipeline(), opts, now=NOW).report
    assert exit_code(report, fail_on) == code


def test_unknown_severity_blocks_or_allows() -> None:
    """An unrated finding fails --fail-on critical unless unknown severity is allowed."""
    from patchwarden.scan.model import UnknownSeverity

    class Unrated(FakePipeline):
        def match(self, index: str, inventory: ScanInventory) -> list[Finding]:
            return [f("CVE-9", Severity.UNKNOWN), f("CVE-4", Severity.LOW)]

    report = run_scan(Unrated(), options(), now=NOW).report
    assert exit_code(report, Severity.CRITICAL, UnknownSeverity.BLOCK) == ExitCode.FINDINGS
    assert exit_code(report, Severity.CRITICAL, UnknownSeverity.ALLOW) == ExitCode.OK
    assert exit_code(report, Severity.UNKNOWN, UnknownSeverity.ALLOW) == ExitCode.FINDINGS


def test_stale_index_warning_comes_first() -> None:
    class Stale(FakePipeline):
        def freshness(self, index: str) -> str | None:
            return "the advisory index is 3d old"

    assert run_scan(Stale(), options(), now=NOW).warnings == ("the advisory index is 3d old",)


def test_ignored_findings_do_not_fail(tmp_path: Path) -> None:
    ign = IgnoreFile(tmp_path / "x", (rule("CVE-1", date(2027, 1, 1)),))
    out = run_scan(FakePipeline(), options(ignore_file=ign), now=NOW)
    assert exit_code(out.report, Severity.CRITICAL) == ExitCode.OK
    assert [i.finding.id for i in out.report.ignored] == ["CVE-1"]
    assert out.report.filters.ignore_file == str(tmp_path / "x")


def test_expired_entries_become_warnings(tmp_path: Path) -> None:
    ign = IgnoreFile(tmp_path / "x", (rule("CVE-1", date(2026, 1, 1)),))
    out = run_scan(FakePipeline(), options(ignore_file=ign), now=NOW)
    assert exit_code(out.report, Severity.CRITICAL) == ExitCode.FINDINGS
    assert len(out.warnings) == 1 and "expired on 2026-01-01" in out.warnings[0]


def test_no_index_is_a_usage_error_unless_sbom_only() -> None:
    with pytest.raises(UsageError) as exc:
        run_scan(FakePipeline(index=None), options(), now=NOW)
    assert exc.value.exit_code == ExitCode.USAGE
    assert "db update" in (exc.value.hint or "") and "--sbom-only" in (exc.value.hint or "")
    report = run_scan(FakePipeline(index=None), options(sbom_only=True), now=NOW).report
    assert report.findings == () and not report.matched


def test_read_errors_are_scan_failures() -> None:
    class Broken(FakePipeline):
        def inventory(self, source: ImageSource, progress: LayerProgress | None) -> ScanInventory:
            raise OSError("unexpected end of data")

    with pytest.raises(Exception) as exc:
        run_scan(Broken(), options(sbom_only=True), now=NOW)
    assert getattr(exc.value, "exit_code", None) == ExitCode.ERRORS


# --- CLI -------------------------------------------------------------------------------------


def test_cli_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["scan"])
    assert res.exit_code == 2 and "exactly one" in res.output
    res = runner.invoke(
        app, ["scan", "--rootfs", str(tmp_path), "--sbom-only", "--fail-on", "high"]
    )
    assert res.exit_code == 2
    res = runner.invoke(app, ["scan", "--rootfs", str(tmp_path), "--severity", "bad"])
    assert res.exit_code == 2
    bad = write(tmp_path, "ignore:\n  - id: CVE-1\n    oops: 1\n")
    res = runner.invoke(app, ["scan", "--rootfs", str(tmp_path), "--ignore-file", str(bad)])
    assert res.exit_code == 2 and "ignore[0].oops" in res.output


def test_cli_rootfs_sbom_only_json(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine"\n')
    (root / "lib/apk/db").mkdir(parents=True)
    (root / "lib/apk/db/installed").write_text(
        "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\n"
    )
    out = tmp_path / "report.json"
    res = CliRunner().invoke(
        app,
        [
            "scan",
            "--rootfs",
            str(root),
            "--sbom-only",
            "--format",
            "json",
            "--no-cache",
            "--no-progress",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["os"]["id"] == "alpine" and data["os"]["version_id"] == "3.19.1"
    assert {p["name"] for p in data["packages"]} >= {"musl", "busybox"}
    assert data["vulnerabilities"] == [] and data["matched"] is False


def test_pipeline_without_config_uses_the_schema_defaults(tmp_path: Path) -> None:
    """No config file (pydantic not loaded) must mean Config()'s defaults."""
    from patchwarden.app.wiring import build_scan_pipeline
    from patchwarden.config.schema import Config

    d = Config()
    assert d.cache.enabled is True and d.cache.dir is None and d.advisories.db_path is None
    assert build_scan_pipeline(None).scanner.cache is not None
    assert build_scan_pipeline(None, use_cache=False).scanner.cache is None
    off = Config.model_validate({"cache": {"enabled": False}})
    assert build_scan_pipeline(off).scanner.cache is None


def test_scan_uses_the_configured_advisory_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """advisories.db_path from patchwarden.yaml is where scan looks (after --db and the env)."""
    from patchwarden.app.wiring import build_scan_pipeline
    from patchwarden.config.schema import Config

    monkeypatch.delenv("PATCHWARDEN_ADVISORY_DB", raising=False)
    missing = tmp_path / "nowhere.db"
    cfg = Config.model_validate({"advisories": {"db_path": str(missing)}})
    root = tmp_path / "rootfs"
    root.mkdir()
    (tmp_path / "patchwarden.yaml").write_text(f"advisories:\n  db_path: {missing}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "400")  # the path on one line however deep tmp_path is
    res = CliRunner().invoke(app, ["scan", "--rootfs", str(root), "--no-cache"])
    assert res.exit_code == 2 and str(missing) in res.output, res.output
    assert build_scan_pipeline(cfg).index_path(None) == missing
    assert build_scan_pipeline(cfg).index_path(tmp_path / "x.db") == tmp_path / "x.db"


def test_cli_scan_warns_about_a_file_it_could_not_read(tmp_path: Path) -> None:
    """A corrupt JAR used to yield no packages and no word; now the scan says so."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=alpine\nVERSION_ID=3.19.1\n")
    (root / "opt/app").mkdir(parents=True)
    (root / "opt/app/broken.jar").write_bytes(b"PK\x03\x04 this is not really a zip file")
    args = ["scan", "--rootfs", str(root), "--sbom-only", "--format", "json"]
    res = CliRunner().invoke(app, [*args, "--no-cache", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "opt/app/broken.jar" in res.output, res.output
    assert "not a readable zip file" in res.output
