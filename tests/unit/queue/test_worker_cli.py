"""``patchwarden worker`` refuses to start without a broker, and says where to set one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from patchwarden.cli.main import build_app


def test_worker_without_a_broker_exits_2_and_names_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(build_app(["worker"]), ["worker", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert "no broker configured" in res.output
    assert "queue.broker_url" in res.output and "PATCHWARDEN_BROKER_URL" in res.output


def test_a_bad_broker_url_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "patchwarden.yaml").write_text("queue:\n  broker_url: amqp://rabbit//\n")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(build_app(["worker"]), ["worker", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert "queue.broker_url" in res.output and "redis://" in res.output
