"""Notifications: routes per event, one alert per change, failures recorded, bad settings
refused at start-up. A real HTTP receiver on loopback stands in for a chat webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patchwarden.config.serve import Event, NotifyRoute
from patchwarden.errors import ConfigError
from patchwarden.service.notify import Notifier
from patchwarden.store import open_store
from patchwarden.store.fleet import FleetStore
from testkit.receiver import WebhookSink


@pytest.fixture()
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with WebhookSink() as sink:
        yield sink.apprise_url(), sink.bodies


def test_routes_dedup_and_failures(
    receiver: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, got = receiver
    with open_store(str(tmp_path / "s.db")) as store:
        fleet = FleetStore(store.engine)
        routes = [
            NotifyRoute(url_env="CHAT", events=[Event.UPDATE_AVAILABLE]),
            NotifyRoute(url_env="DEAD", events=[Event.JOB_FAILED]),
        ]
        n = Notifier(routes, fleet, env={"CHAT": url, "DEAD": "json://127.0.0.1:9/nothing"})
        assert n.notify(Event.UPDATE_AVAILABLE, "web->sha256:1", "update available", "1 -> 2")
        assert not n.notify(Event.UPDATE_AVAILABLE, "web->sha256:1", "again", "1 -> 2")
        assert n.notify(Event.UPDATE_AVAILABLE, "web->sha256:2", "update available", "2 -> 3")
        assert not n.notify(Event.ROLLBACK, "x", "no route wants this", "")
        assert not n.notify(Event.JOB_FAILED, "check:1", "job failed", "boom")  # unreachable
        assert [g["title"] for g in got] == ["[patchwarden] update available"] * 2
        assert "1 -> 2" in got[0]["message"]
        # a restart (a new notifier on the same store) stays silent about the same change
        again = Notifier(routes, fleet, env={"CHAT": url, "DEAD": "json://127.0.0.1:9/x"})
        assert not again.notify(Event.UPDATE_AVAILABLE, "web->sha256:1", "t", "b")
        assert fleet.notifications_count() == 3
        raw = store.engine.raw_connection()
        try:
            rows = dict(raw.execute("SELECT dedup_key, error FROM notifications").fetchall())
        finally:
            raw.close()
        assert rows["job-failed:check:1"] == "a job-failed route failed"
        assert rows["update-available:web->sha256:1"] is None


def test_missing_or_bad_urls_are_configuration_errors(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        fleet = FleetStore(store.engine)
        with pytest.raises(ConfigError) as e:
            Notifier([NotifyRoute(url_env="PW_NOPE")], fleet, env={})
        assert "serve.notify[0].url_env" in e.value.message and "PW_NOPE" in e.value.message
        with pytest.raises(ConfigError) as e:
            Notifier([NotifyRoute(url_env="U")], fleet, env={"U": "nosuchscheme://user:pw@x"})
        assert "pw@" not in e.value.message  # the credential is redacted
