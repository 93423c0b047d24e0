"""The FastAPI application: wiring only; behaviour lives in ingest/ and queries/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from queries.store import Store
from service import errors
from service.context import build
from service.routes import admin, events, keys, platforms
from service.settings import Settings


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """An app on `store` (default: the one the settings name, opened at start-up)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store or Store(settings.target)
        app.state.services = build(settings, opened)
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(title="vnmeter", version="0.1.0", lifespan=lifespan,
                  description="Platform usage measurement: ingestion of anonymised usage events and metrics.")
    errors.install(app)
    for router in (admin.router, keys.router, platforms.router, events.router):
        app.include_router(router)
    return app
