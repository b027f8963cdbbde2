"""`flags:` in patchwarden.yaml sets any command's options (Trivy-style config for flags):
command line > environment variable > flags: > built-in default; unknown commands and options
are errors naming the key. Each case is a real CLI process in a throwaway git repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.cli_process import cli


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # the config search stops at the repository root
    return tmp_path


def _config(repo: Path, text: str) -> None:
    (repo / "patchwarden.yaml").write_text("version: 1\n" + text)


def test_flags_set_defaults_and_the_command_line_and_environment_win(repo: Path) -> None:
    _config(repo, "flags:\n  version: {format: json}\n  engine:\n    history: {limit: 1}\n")
    proc = cli("version", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["patchwarden"]  # JSON because flags: said so
    table = cli("version", "--format", "table", cwd=repo)
    assert table.stdout.startswith("patchwarden "), "the command line wins"
    env = cli("version", env={"PATCHWARDEN_FORMAT": "table"}, cwd=repo)
    assert env.stdout.startswith("patchwarden "), "the environment wins over flags:"
    # a nested command: its --help shows the default the file gives
    helped = cli("engine", "history", "--help", cwd=repo)
    assert "default: 1]" in " ".join(helped.stdout.split())


def test_config_given_with_c_is_the_one_read(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("elsewhere") / "team.yaml"
    other.write_text("version: 1\nflags:\n  version: {format: json}\n")
    assert cli("version", cwd=repo).stdout.startswith("patchwarden ")
    proc = cli("version", "-c", str(other), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "patchwarden" in json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("  scna: {format: json}\n", "flags.scna: no such command (one of: check, db, engine"),
        (
            "  version: {formt: json}\n",
            "flags.version.formt: `patchwarden version` has no option formt",
        ),
        ("  engine: {histroy: {limit: 1}}\n", "flags.engine.histroy: no such command"),
        ("  version: json\n", "flags.version: must be a mapping of options"),
    ],
)
def test_unknown_keys_are_errors_naming_them(repo: Path, flags: str, message: str) -> None:
    _config(repo, "flags:\n" + flags)
    command = ["engine", "history"] if "engine" in flags else ["version"]
    proc = cli(*command, cwd=repo)
    assert proc.returncode == 2
    assert message in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
