"""``patchwarden worker``: run the jobs ``serve`` queues, on this machine, as one of a fleet."""

from __future__ import annotations

import typer

from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    PathsArg,
    load_settings,
    resolve_paths,
    user_errors,
)
from patchwarden.errors import ConfigError

HELP = """Run jobs that patchwarden serve queued (Celery over Redis), as one of many workers.

serve and every worker share the broker (queue.broker_url or PATCHWARDEN_BROKER_URL, a
redis:// URL) and the state store (state.url or PATCHWARDEN_STATE_URL, a
postgresql+psycopg:// URL for workers on several machines). Give each worker the same
configuration and PATHs as serve. A job is retried with backoff when it fails
(queue.max_retries, queue.retry_backoff) and then listed as dead (GET /api/v1/tasks?state=dead);
a worker killed mid-job leaves its job to another worker after queue.visibility_timeout, and
side effects (container updates, notifications) are never repeated.

Exit codes: 0 stopped (SIGTERM: running jobs finish first); 2 bad usage or configuration
(no broker configured); 3 the state store could not be opened.

\b
  PATCHWARDEN_BROKER_URL=redis://queue:6379/0 \\
  PATCHWARDEN_STATE_URL=postgresql+psycopg://pw@db/patchwarden \\
    patchwarden worker deploy/ -c patchwarden.yaml --concurrency 2
"""


def worker(
    paths: PathsArg = None,
    config: ConfigOpt = None,
    state: str | None = typer.Option(
        None,
        "--state",
        metavar="PATH|URL",
        help="State store (default: $PATCHWARDEN_STATE_URL, state.url, serve.state).",
    ),
    concurrency: int = typer.Option(
        1, "--concurrency", min=1, max=64, help="Jobs this worker runs at once (processes)."
    ),
    name: str | None = typer.Option(
        None, "--name", help="Worker name shown in logs (default: patchwarden@HOSTNAME)."
    ),
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.wiring import broker_url, state_url

        roots = resolve_paths(paths)
        cfg, _ = load_settings(config, roots)
        url = broker_url(cfg)
        if url is None:
            raise ConfigError(
                "no broker configured: a worker takes its jobs from one",
                "set queue.broker_url in the configuration or PATCHWARDEN_BROKER_URL "
                "(redis://HOST:6379/0)",
            )
        resolved = [p.resolve() for p in roots]
        store = state_url(cfg, state)
        from patchwarden.app.wiring import build_store
        from patchwarden.service.worker import WorkerHost

        build_store(store).close()  # migrate and check it once, before any job is taken

        from patchwarden.queue.celery_app import make_celery
        from patchwarden.queue.worker import run_worker

        code = run_worker(
            make_celery(cfg.queue, url),
            lambda: WorkerHost(cfg, resolved, store),
            concurrency=concurrency,
            name=name,
            loglevel="DEBUG" if debug else "INFO",
        )
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command(name="worker", help=HELP)(worker)
