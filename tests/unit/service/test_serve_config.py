"""The serve: section of patchwarden.yaml: precise errors with the key's path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from patchwarden.config.schema import Config
from patchwarden.config.serve import JobName


@pytest.mark.parametrize(
    ("serve", "path", "words"),
    [
        ({"jobs": {"check": {"cron": "61 * * * *"}}}, "serve.jobs.check.cron", "5 fields"),
        (
            {"jobs": {"check": {"cron": "* * * * *", "timezone": "Mars/Base"}}},
            "serve.jobs.check.timezone",
            "IANA",
        ),
        ({"maintenance_windows": [{"cron": "x"}]}, "serve.maintenance_windows.0.cron", "cron"),
        (
            {"jobs": {"nope": {"cron": "* * * * *"}}},
            "serve.jobs.nope",
            "'rebuild', 'rollout' or 'retention'",
        ),
        ({"listen": "nohost"}, "serve.listen", "HOST:PORT"),
        ({"listen": "127.0.0.1:70000"}, "serve.listen", "HOST:PORT"),
        (
            {"notify": [{"url_env": "X", "events": ["party"]}]},
            "serve.notify.0.events.0",
            "update-available",
        ),
        ({"unknown": 1}, "serve.unknown", "Extra inputs"),
        (
            {"templates": {"rollback": {"title": "$container back on $digest"}}},
            "serve.templates",
            "rollback.title: unknown variable $digest; rollback has: $body, $container,",
        ),
        (
            {"templates": {"job-failed": {"body": "costs 5$ now"}}},
            "serve.templates",
            "job-failed.body: malformed template (a lone $?): write $$ for a dollar",
        ),
        (
            {"templates": {"party": {"title": "x"}}},
            "serve.templates.party.[key]",
            "'new-vulnerability'",
        ),
    ],
)
def test_bad_serve_settings_name_the_key(serve: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ValidationError) as e:
        Config.model_validate({"serve": serve})
    text = str(e.value)
    assert path in text and words in text


def test_defaults_and_durations() -> None:
    cfg = Config.model_validate(
        {"serve": {"jobs": {"check": {"cron": "*/5 * * * *", "jitter": "90s", "missed": "skip"}}}}
    )
    job = cfg.serve.jobs[JobName.CHECK]
    assert (job.jitter, job.missed, job.timezone) == (timedelta(seconds=90), "skip", "UTC")
    d = Config().serve
    assert (d.listen, d.approvals, d.hooks.token_env) == (
        "127.0.0.1:8080",
        True,
        "PATCHWARDEN_HOOK_TOKEN",
    )


def test_a_taken_listen_address_is_a_usage_error(tmp_path: Path) -> None:
    import socket

    from typer.testing import CliRunner

    from patchwarden.cli.main import build_app

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = CliRunner().invoke(
            build_app(["serve"]),
            [
                "serve",
                str(tmp_path),
                "--listen",
                f"127.0.0.1:{port}",
                "--state",
                str(tmp_path / "s.db"),
            ],
        )
    finally:
        taken.close()
    assert result.exit_code == 2
    assert "cannot listen on" in result.stderr and "--listen" in result.stderr
    assert not (tmp_path / "s.db").exists()  # refused before anything started


def test_every_job_kind_has_a_parameter_schema() -> None:
    from patchwarden.config.jobparams import PARAMS

    assert set(PARAMS) == {k.value for k in JobName}


def _load(tmp_path: Path, text: str) -> str:
    """The message and hint of loading ``text`` as patchwarden.yaml (it must fail)."""
    from patchwarden.config.loader import load_config
    from patchwarden.errors import ConfigError

    path = tmp_path / "patchwarden.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return f"{e.value.message}\nhint: {e.value.hint}"


def test_job_parameters_are_checked_at_load_with_file_line_and_key(tmp_path: Path) -> None:
    text = _load(
        tmp_path,
        "serve:\n"
        "  jobs:\n"
        "    update:\n"
        "      cron: '0 3 * * *'\n"
        "      params:\n"
        "        dry_run: 'yes'\n"  # line 6: a string, not a boolean
        "        pul_request: false\n"  # line 7: a typo
        "    retention:\n"
        "      cron: '0 4 * * 0'\n"
        "      params: {keep_last: 5, keep_tags: '(release'}\n"  # line 10: no repositories
        "    engine-update:\n"
        "      cron: '0 4 * * 0'\n"
        "      params: {stop_timeout: ten}\n"  # line 13
        "    apply:\n"
        "      cron: '0 4 * * 0'\n"
        "      params: {containers: [web]}\n",  # line 16: apply takes none
    )
    where = str(tmp_path / "patchwarden.yaml")
    assert f"{where}:6: serve.jobs.update.params.dry_run: Input should be a valid boolean" in text
    assert (
        f"{where}:7: serve.jobs.update.params.pul_request: unknown key 'pul_request' (allowed "
        "here: dry_run, forge, forge_api, forge_url, group, path, pin, pull_request, remote)"
    ) in text
    assert f"{where}:10: serve.jobs.retention.params.repositories: Field required" in text
    assert f"{where}:10: serve.jobs.retention.params.keep_tags: invalid regular expression" in text
    assert (
        f"{where}:13: serve.jobs.engine-update.params.stop_timeout: Input should be a valid integer (got 'ten')"
        in text
    )
    assert (
        f"{where}:16: serve.jobs.apply.params.containers: unknown key 'containers' (allowed here: none)"
        in text
    )
    assert "hint: docs/commands/serve.md lists the parameters of each job kind" in text


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("check", {"repositories": ["docker.io/library/nginx"]}),
        ("scan", {"images": ["r.example/a@sha256:" + "0" * 64], "max": 5}),
        ("advisory-refresh", {"update": False}),
        ("update", {"path": ".", "dry_run": True, "group": "all", "forge": "gitea"}),
        ("engine-update", {"containers": ["web"], "stop_timeout": 3, "hook_timeout": 5}),
        ("rebuild", {"builds": ["api"]}),
        ("rollout", {"rollout_id": 3}),
        ("retention", {"repositories": ["r.example/a"], "keep_days": 7, "keep_tags": "^v1"}),
    ],
)
def test_documented_job_parameters_are_accepted_and_passed_on_unchanged(
    kind: str, params: dict[str, Any]
) -> None:
    cfg = Config.model_validate(
        {"serve": {"jobs": {kind: {"cron": "0 3 * * *", "params": params}}}}
    )
    assert cfg.serve.jobs[JobName(kind)].params == params


def test_serve_refuses_to_start_on_a_bad_job_parameter(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from patchwarden.cli.main import build_app

    cfg = tmp_path / "patchwarden.yaml"
    cfg.write_text("serve:\n  jobs:\n    scan:\n      cron: '0 3 * * *'\n      params: {max: 0}\n")
    result = CliRunner().invoke(
        build_app(["serve"]),
        ["serve", str(tmp_path), "-c", str(cfg), "--state", str(tmp_path / "s.db")],
    )
    assert result.exit_code == 2, result.output
    assert "serve.jobs.scan.params.max: Input should be greater than or equal to 1" in result.stderr
    assert not (tmp_path / "s.db").exists()  # refused before anything started
