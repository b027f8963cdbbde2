"""``queue:`` and ``state:`` keys: validation messages and where URLs come from."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from patchwarden.app.wiring import broker_url, build_rate_limiter, state_url
from patchwarden.config.schema import Config
from patchwarden.registry.ratelimit import LocalTokenBucket


def test_rate_limits_and_durations_parse() -> None:
    cfg = Config.model_validate(
        {
            "queue": {
                "visibility_timeout": "90s",
                "rate_limits": {"docker.io": {"requests": 100, "per": "6h"}},
            }
        }
    )
    rl = cfg.queue.rate_limits["docker.io"]
    assert cfg.queue.visibility_timeout == timedelta(seconds=90)
    assert rl.capacity == 100 and rl.rate == pytest.approx(100 / 21600)


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ({"broker_url": "amqp://rabbit/"}, "use redis://HOST:PORT/DB"),
        ({"rate_limits": {"h": {"requests": 5, "per": "0s"}}}, "positive duration"),
        ({"rate_limits": {"h": {"requests": 0, "per": "1s"}}}, "greater than or equal to 1"),
        ({"time_limit": 0}, "positive duration"),
        ({"brokers": "redis://x"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_queue_settings_say_what_to_write(queue: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Config.model_validate({"queue": queue})


def test_env_wins_over_config_for_broker_and_state(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = Config.model_validate(
        {
            "queue": {"broker_url": "redis://from-config:6379/0"},
            "state": {"url": "postgresql+psycopg://cfg/db"},
            "serve": {"state": "/var/lib/pw.db"},
        }
    )
    assert broker_url(cfg) == "redis://from-config:6379/0"
    assert state_url(cfg) == "postgresql+psycopg://cfg/db"
    assert state_url(cfg, "/explicit.db") == "/explicit.db"
    monkeypatch.setenv("PATCHWARDEN_BROKER_URL", "redis://from-env:6379/1")
    monkeypatch.setenv("PATCHWARDEN_STATE_URL", "postgresql+psycopg://env/db")
    assert broker_url(cfg) == "redis://from-env:6379/1"
    assert state_url(cfg) == "postgresql+psycopg://env/db"
    assert state_url(Config()) == "postgresql+psycopg://env/db"
    monkeypatch.delenv("PATCHWARDEN_STATE_URL")
    assert state_url(Config.model_validate({"serve": {"state": "/s.db"}})) == "/s.db"
    assert state_url(Config()) is None


def test_without_a_broker_rate_limits_pace_this_process() -> None:
    assert build_rate_limiter(Config()) is None
    cfg = Config.model_validate(
        {"queue": {"rate_limits": {"ghcr.io": {"requests": 10, "per": "1s", "burst": 2}}}}
    )
    limiter = build_rate_limiter(cfg)
    assert isinstance(limiter, LocalTokenBucket)
    assert limiter.limits == {"ghcr.io": (10.0, 2)}
