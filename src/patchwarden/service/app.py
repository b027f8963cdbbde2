"""The ASGI application: API, webhooks, metrics, dashboard; the service's life cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from patchwarden.service.api import Api
from patchwarden.service.dashboard import Dashboard

if TYPE_CHECKING:
    from patchwarden.service.process import Service


def build_app(svc: Service, *, grace: float = 30.0, manage: bool = True) -> Starlette:
    """The app for ``svc``; with ``manage`` the app's lifespan starts and stops the service."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        if manage:
            await run_in_threadpool(svc.start)
        try:
            yield
        finally:
            if manage:
                await run_in_threadpool(svc.stop, grace)

    routes = Api(svc).routes() + Dashboard(svc).routes()
    return Starlette(routes=routes, lifespan=lifespan)
