"""``create_app(settings)``: the FastAPI application and the resources its lifespan owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from alerts import __version__
from alerts.db import make_engine, ping
from alerts.errors import Unavailable, install_error_handlers
from alerts.intake import api as intake_api
from alerts.intake import feeds_api
from alerts.settings import Settings
from alerts.subscribers import api as subscribers_api


def create_app(settings: Settings) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        timeout = httpx.Timeout(settings.http_timeout_s, connect=5.0)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            app.state.engine = engine
            app.state.http = client
            try:
                yield
            finally:
                engine.dispose()

    app = FastAPI(
        title="alertcast",
        version=__version__,
        summary="CAP 1.2 alerts in; geofenced MMS maps out over 3GPP MM7.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.on_alert_stored = []
    install_error_handlers(app)
    app.include_router(intake_api.router)
    app.include_router(feeds_api.router)
    app.include_router(subscribers_api.router)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Readiness (database reachable)",
        responses={503: {"description": "Database unreachable"}},
    )
    def readyz() -> JSONResponse:
        """Ready when the database answers a query."""
        try:
            ping(app.state.engine)
        except Exception as exc:
            raise Unavailable(f"database unreachable: {type(exc).__name__}") from exc
        return JSONResponse({"status": "ready", "database": "ok"})

    return app
