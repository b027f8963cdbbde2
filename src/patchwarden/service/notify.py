"""Notifications through Apprise, routed per event, one alert per change.

Each route names an environment variable holding Apprise URLs (``mailtos://...``,
``slack://...``, ``json://host/path``, ``ntfy://...``: everything Apprise supports) and the events
it wants. Before an alert goes out its de-duplication key (event + change, e.g. the container
and target digest) is claimed in the state store: a change is announced once, however many
checks see it, across restarts and processes. The claim comes first, so a crash between claim
and send loses that alert rather than sending it twice; failures are recorded with the claim.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from patchwarden.config.serve import EVENT_VARIABLES, Event, MessageTemplate, NotifyRoute
from patchwarden.errors import ConfigError
from patchwarden.net.redact import redact_text
from patchwarden.store.fleet import FleetStore

log = logging.getLogger("patchwarden.service.notify")


@dataclass
class _Route:
    events: frozenset[Event]
    title_prefix: str
    apprise: Any
    secrets: tuple[str, ...]


class Notifier:
    def __init__(
        self,
        routes: list[NotifyRoute],
        fleet: FleetStore,
        env: Mapping[str, str] | None = None,
        templates: Mapping[Event, MessageTemplate] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.fleet = fleet
        self.templates = dict(templates or {})
        self.sent = 0
        self._routes: list[_Route] = []
        for i, route in enumerate(routes):
            urls = env.get(route.url_env, "").split()
            if not urls:
                raise ConfigError(
                    f"serve.notify[{i}].url_env names ${route.url_env}, which is empty or unset",
                    f"export {route.url_env}='mailtos://user:pass@host?to=ops@example.org' "
                    "(any Apprise URL; several separated by spaces)",
                )
            import apprise

            ap = apprise.Apprise()
            for url in urls:
                if not ap.add(url):
                    raise ConfigError(
                        f"serve.notify[{i}]: ${route.url_env} holds a URL Apprise does not "
                        f"understand: {redact_text(url)}",
                        "see Apprise's list of services for the URL forms",
                    )
            self._routes.append(
                _Route(frozenset(route.events), route.title_prefix, ap, tuple(urls))
            )

    def notify(
        self,
        event: Event,
        key: str,
        title: str,
        body: str,
        fields: Mapping[str, object] | None = None,
    ) -> bool:
        """Send ``event`` to its routes once per ``key``; True when it went out now.
        ``fields`` are the event's template variables (``EVENT_VARIABLES``)."""
        routes = [r for r in self._routes if event in r.events]
        if not routes:
            return False
        dedup = f"{event.value}:{key}"
        if not self.fleet.claim_notification(dedup, event.value):
            return False
        title, body = self.render(event, title, body, fields or {})
        errors = []
        for r in routes:
            try:
                ok = r.apprise.notify(title=f"[{r.title_prefix}] {title}", body=body)
            except Exception as exc:  # a notification service must not break a job
                ok = False
                log.warning("notification failed: %s", redact_text(str(exc), r.secrets))
            if not ok:
                errors.append(f"a {event.value} route failed")
        self.fleet.notification_sent(dedup, "; ".join(errors) or None)
        self.sent += 1
        return not errors

    def render(
        self, event: Event, title: str, body: str, fields: Mapping[str, object]
    ) -> tuple[str, str]:
        """The title and text of ``event``: its template (if configured) filled with
        ``fields``, ``$title`` and ``$body``; a variable the caller did not give is empty."""
        tpl = self.templates.get(event)
        if tpl is None:
            return title, body
        from string import Template

        values = {v: "" for v in EVENT_VARIABLES[event]}
        values |= {k: str(v) for k, v in fields.items()}
        values |= {"event": event.value, "title": title, "body": body}
        return (
            Template(tpl.title).safe_substitute(values) if tpl.title is not None else title,
            Template(tpl.body).safe_substitute(values) if tpl.body is not None else body,
        )
