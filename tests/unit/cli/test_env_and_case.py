"""Flags from the environment and case-insensitive choices, as Trivy and Docker users expect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from patchwarden.cli.main import build_app

REPO = Path(__file__).parents[2] / "fixtures" / "repos" / "monorepo"


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), args, env={"COLUMNS": "500", **env})
    return result.exit_code, result.stdout, result.stderr


def test_format_from_the_environment_and_in_any_case() -> None:
    code, out, err = _run(["inventory", str(REPO)], {"PATCHWARDEN_FORMAT": "JSON"})
    assert code == 0, err
    assert json.loads(out)["references"]


def test_every_option_has_an_automatic_variable() -> None:
    """PATCHWARDEN_<COMMAND>_<OPTION>: here inventory's --exclude, which has no short name."""
    code, out, err = _run(
        ["inventory", str(REPO), "-f", "json"], {"PATCHWARDEN_INVENTORY_EXCLUDE": "*"}
    )
    assert code == 0, err
    assert json.loads(out)["references"] == []


@pytest.mark.parametrize("value", ["CRITICAL", "High"])
def test_severities_are_case_insensitive(value: str, tmp_path: Path) -> None:
    code, _out, err = _run(
        ["scan", "--archive", str(tmp_path / "missing.tar"), "--fail-on", value], {}
    )
    assert code == 2
    assert "is not a file" in err and "Invalid value" not in err


def test_help_names_the_variables() -> None:
    result = CliRunner().invoke(build_app(), ["scan", "--help"], env={"COLUMNS": "200"})
    assert "PATCHWARDEN_FAIL_ON" in result.stdout and "PATCHWARDEN_FORMAT" in result.stdout
