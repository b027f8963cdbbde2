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
