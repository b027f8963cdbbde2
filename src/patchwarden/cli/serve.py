"""``patchwarden serve``: the long-running process (schedules, webhooks, API, dashboard)."""

from __future__ import annotations

import os
import signal
import socket

import typer

from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    PathsArg,
    load_settings,
    resolve_paths,
    user_errors,
)
from patchwarden.errors import UsageError

HELP = """Run patchwarden as a service: jobs on schedules and on registry events, a JSON API,
a dashboard and Prometheus metrics.

With no schedule in the configuration it runs an inventory and check of the PATHs (default:
the current directory) at start-up, then waits for events: POST /hooks/registry (CNCF
distribution notifications, Docker Hub, Harbor) re-checks the repositories that changed.
Running containers are checked too when serve.engine names a Docker-API engine; their updates
wait for an approval (API or dashboard) and are applied inside serve.maintenance_windows.

Endpoints: GET /healthz, /readyz, /metrics (no auth); /api/v1/... (Bearer token; the admin
token comes from PATCHWARDEN_API_TOKEN); /openapi.json; the dashboard at /.
Configuration: the serve: section of patchwarden.yaml (docs/commands/serve.md). With a
broker (queue.broker_url or PATCHWARDEN_BROKER_URL) jobs run on patchwarden worker processes.

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT); 2 bad usage or configuration (also when the
listen address is taken); 3 the state store could not be opened.

\b
  PATCHWARDEN_API_TOKEN=$(openssl rand -hex 32) patchwarden serve deploy/ -c patchwarden.yaml
  patchwarden serve --listen 0.0.0.0:8080      # behind a TLS reverse proxy (docs)
"""


def serve(
    paths: PathsArg = None,
    config: ConfigOpt = None,
    listen: str | None = typer.Option(
        None,
        "--listen",
        metavar="HOST:PORT",
        envvar="PATCHWARDEN_LISTEN",
        show_envvar=True,
        help="Address to bind (default: serve.listen, 127.0.0.1:8080).",
    ),
    state: str | None = typer.Option(
        None,
        "--state",
        metavar="PATH|URL",
        help="State store: SQLite file or postgresql+psycopg:// URL "
        "(default: $PATCHWARDEN_STATE_URL, state.url, serve.state, $PATCHWARDEN_STATE, "
        "the user data dir).",
    ),
    log_format: str | None = typer.Option(
        None,
        "--log-format",
        metavar="text|json",
        envvar="PATCHWARDEN_LOG_FORMAT",
        show_envvar=True,
        help="Log lines as text or JSON (default: serve.log_format).",
    ),
    grace: float = typer.Option(
        30.0, "--grace", metavar="SECONDS", help="On SIGTERM, how long running jobs may finish."
    ),
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        import uvicorn

        from patchwarden.service import logs
        from patchwarden.service.app import build_app
        from patchwarden.service.process import ADMIN_ENV, Service

        roots = resolve_paths(paths)
        cfg, _ = load_settings(config, roots)
        address = listen or cfg.serve.listen
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"invalid --listen {address!r}", "use HOST:PORT, e.g. 127.0.0.1:8080")
        fmt = log_format or cfg.serve.log_format
        if fmt not in ("text", "json"):
            raise UsageError(f"invalid --log-format {fmt!r}", "use text or json")
        token_env = cfg.serve.hooks.token_env
        secrets = [os.environ.get(ADMIN_ENV, ""), os.environ.get(token_env or "", "")]
        sock = _bind(host.strip("[]"), int(port), address)  # before any job can start
        logs.setup(fmt, secrets)
        svc = Service(cfg, [p.resolve() for p in roots], state=state)
        app = build_app(svc, grace=grace)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,
                proxy_headers=True,
                timeout_graceful_shutdown=int(grace),
            )
        )
        # uvicorn handles SIGTERM/SIGINT (graceful shutdown), then re-raises the signal into
        # the handler that was there before; a no-op one makes a clean stop exit 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        server.run(sockets=[sock])


def _bind(host: str, port: int, address: str) -> socket.socket:
    try:
        family, kind, proto, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {address}: {exc.strerror or exc}",
            "pick a free port or another address with --listen HOST:PORT",
        ) from None
    sock.set_inheritable(True)
    return sock


def register(app: typer.Typer) -> None:
    app.command(name="serve", help=HELP)(serve)
