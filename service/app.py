"""The FastAPI application: wiring only; behaviour lives in ingest/ and queries/."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from queries.store import Store, StoreUnavailable
from service import dashboard, errors, openapi
from service.context import build
from service.limits import RequestLimits
from service.refresher import CountRefresher
from service.routes import admin, events, keys, maintenance, me, metrics, platforms, quality, summaries
from service.scheduler import Scheduler
from service.settings import Settings

log = logging.getLogger("vnmeter")


CONNECT_RETRY_S = 2.0


def connect_when_reachable(settings: Settings, start: Callable[[Store], None], stop: threading.Event) -> None:
    """Open the configured ClickHouse server and start the services, retrying until it answers."""
    while not stop.is_set():
        try:
            start(Store(settings.target))
            log.info("connected to ClickHouse")
            return
        except StoreUnavailable as exc:
            log.warning("ClickHouse not reachable yet (%s); retrying in %.0f s", exc, CONNECT_RETRY_S)
        stop.wait(CONNECT_RETRY_S)


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """An app on `store` (default: the one the settings name, opened at start-up)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = None
        stop = threading.Event()
        background: list[Scheduler | CountRefresher] = []

        def start(opened: Store) -> None:
            app.state.services = build(settings, opened)
            background.append(Scheduler(app.state.services).start())
            background.append(CountRefresher(opened).start())

        if store is not None or settings.target.is_embedded:
            start(store or Store(settings.target))
        else:
            # A ClickHouse server may be down at start-up: stay live, answer 503 until it can be reached.
            threading.Thread(target=connect_when_reachable, args=(settings, start, stop), daemon=True,
                             name="vnmeter-connect").start()
        try:
            yield
        finally:
            stop.set()
            for running in background:
                running.stop()
            if app.state.services is not None:
                app.state.services.close()

    # /docs and /redoc with their assets from the fastapi-offline package: they work without network
    app = FastAPIOffline(title="vnmeter", version="0.1.0", lifespan=lifespan,
                         description="Platform usage measurement: ingestion of anonymised usage events and metrics. "
                                     "Every endpoint but /health/* takes an API key: `Authorization: Bearer <key>`.",
                         swagger_ui_parameters={"persistAuthorization": False, "validatorUrl": None})
    errors.install(app)
    app.add_middleware(RequestLimits)
    routers = (admin.router, maintenance.router, me.router, keys.router, platforms.router, events.router,
               metrics.router, summaries.router, quality.router)
    for router in routers:
        app.include_router(router)
    openapi.install(app, routers)
    dashboard.install(app)
    return app
