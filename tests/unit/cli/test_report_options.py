"""``--output FILE``, ``--quiet``, ``--verbose``, the config file in JSON output, and shell
completion: each checked on the real CLI in its own process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.cli_process import cli


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git repository with patchwarden.yaml at its root and a Dockerfile two levels down."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "patchwarden.yaml").write_text("concurrency: 2\n")
    work = tmp_path / "services" / "web"
    work.mkdir(parents=True)
    (work / "Dockerfile").write_text("FROM nginx:1.25\nFROM ${UNSET}\n")
    return work


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_output_writes_the_report_to_a_file(repo: Path, fmt: str) -> None:
    shown = cli("inventory", ".", "-f", fmt, cwd=repo)
    run = cli("inventory", ".", "-f", fmt, "--output", "report.txt", cwd=repo)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "", "the report goes to the file, not stdout"
    assert (repo / "report.txt").read_text() == shown.stdout
    assert not [p.name for p in repo.iterdir() if p.name.startswith(".")], "no temp file left"


def test_output_is_left_alone_when_the_run_fails(repo: Path) -> None:
    (repo / "report.json").write_text("previous report\n")
    run = cli("inventory", "missing/", "-f", "json", "-o", "report.json", cwd=repo)
    assert run.returncode == 2
    assert (repo / "report.json").read_text() == "previous report\n"
    assert "error: path missing does not exist" in run.stderr


def test_output_into_a_missing_directory_is_a_clear_error(repo: Path) -> None:
    run = cli("inventory", ".", "-o", "no/such/dir/report.txt", cwd=repo)
    assert run.returncode == 2, run.stderr
    assert "cannot write the report to no/such/dir/report.txt" in run.stderr
    assert "--output" in run.stderr


def test_output_env_var_and_engine_history(tmp_path: Path) -> None:
    env = {"PATCHWARDEN_ENGINE_HISTORY_OUTPUT": str(tmp_path / "h.json")}
    run = cli(
        "engine",
        "history",
        "--state",
        str(tmp_path / "none.db"),
        "-f",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "h.json").read_text()) == {"records": []}


def test_quiet_silences_stderr_but_not_errors(tmp_path: Path) -> None:
    state = ["--state", str(tmp_path / "none.db")]
    assert cli("engine", "history", *state, cwd=tmp_path).stderr.strip() == "no records"
    assert cli("engine", "history", *state, "--quiet", cwd=tmp_path).stderr == ""
    assert (
        cli("engine", "history", *state, cwd=tmp_path, env={"PATCHWARDEN_QUIET": "1"}).stderr == ""
    )
    failed = cli("inventory", "missing/", "-q", cwd=tmp_path)
    assert failed.returncode == 2 and "error: path missing does not exist" in failed.stderr


def test_verbose_and_json_name_the_config_found_upward(repo: Path) -> None:
    config = str((repo.parents[1] / "patchwarden.yaml").resolve())
    run = cli("inventory", ".", "-f", "json", "--verbose", cwd=repo)
    assert run.returncode == 0, run.stderr
    assert f"config: {config}" in run.stderr
    assert json.loads(run.stdout)["config"] == config
    (repo.parents[1] / "patchwarden.yaml").unlink()
    none = cli("inventory", ".", "-f", "json", "-v", cwd=repo)
    assert "config: none found (searched" in none.stderr
    assert json.loads(none.stdout)["config"] is None


def test_shell_completion(tmp_path: Path) -> None:
    env = {
        "_PATCHWARDEN_COMPLETE": "complete_bash",
        "COMP_WORDS": "patchwarden eng",
        "COMP_CWORD": "1",
    }
    assert cli(cwd=tmp_path, env=env).stdout.split() == ["engine"]
    env.update(COMP_WORDS="patchwarden check --exit", COMP_CWORD="2")
    assert cli(cwd=tmp_path, env=env).stdout.split() == ["--exit-code"]
    script = cli("--show-completion", "bash", cwd=tmp_path, env={"SHELL": "/bin/bash"})
    assert "_patchwarden_completion" in script.stdout, script.stderr
