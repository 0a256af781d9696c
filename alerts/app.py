"""``create_app(settings)``: the FastAPI application and the resources its lifespan owns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CollectorRegistry

from alerts import __version__, console
from alerts.access.service import PrincipalCache
from alerts.db import make_engine, ping
from alerts.dispatch import api as dispatch_api
from alerts.dispatch.links import SIM_PREFIX
from alerts.dispatch.metrics import QueueCollector
from alerts.dispatch.runtime import (
    DispatchRuntime,
    install_mm7_inbound,
    mm7_router,
    simulator_config,
)
from alerts.errors import Unavailable, install_error_handlers
from alerts.intake import api as intake_api
from alerts.intake import feeds_api
from alerts.migrate import schema_lag
from alerts.mmsc.app import create_simulator_app
from alerts.public import api as public_api
from alerts.settings import Settings
from alerts.subscribers import api as subscribers_api
from alerts.zones import api as zones_api
from alerts.zones.cli import register_extras
from alerts.zones.targeting import Targeting
from geo.errors import UnknownZoneError
from geo.zones import ZoneRegistry

SWAGGER_UI = "/console/vendor/swagger-ui"  # npm swagger-ui-dist, mounted by the console


@lru_cache(maxsize=4)
def zone_registry(data_dir: Path, var_dir: Path) -> ZoneRegistry:
    """One zone registry per data folder per process (zone sets load lazily, once)."""
    registry = ZoneRegistry.default(data_dir)
    register_extras(registry, var_dir)
    return registry


def _zone_point(registry: ZoneRegistry) -> Callable[[str, str], tuple[float, float]]:
    """A representative point inside a registered zone (KeyError when unknown)."""

    def point(set_name: str, zone_id: str) -> tuple[float, float]:
        try:
            p = registry.zone(set_name, zone_id).geometry.representative_point()
        except UnknownZoneError:
            raise KeyError(f"{set_name}/{zone_id}") from None
        return float(p.x), float(p.y)

    return point


def create_app(settings: Settings) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        timeout = httpx.Timeout(settings.http_timeout_s, connect=5.0)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            app.state.engine = engine
            app.state.http = client
            runtime = DispatchRuntime(engine, settings, targeting)
            app.state.runtime = runtime
            app.state.on_alert_stored.append(runtime.on_alert_stored)
            registry = CollectorRegistry()
            registry.register(QueueCollector(engine))
            app.state.metrics_registry = registry
            if simulator is not None:
                simulator.reports.client = client
            runtime.start(app, client)
            try:
                yield
            finally:
                await runtime.close()
                if simulator is not None:
                    await simulator.reports.close()
                engine.dispose()

    app = FastAPI(
        title="alertcast",
        version=__version__,
        summary="CAP 1.2 alerts in; geofenced MMS maps out over 3GPP MM7.",
        lifespan=lifespan,
        docs_url=None,  # served below from our own copy of Swagger UI, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.key_cache = PrincipalCache(settings.api_key_cache_s)
    app.state.on_alert_stored = []
    targeting = Targeting(zone_registry(settings.data_dir, settings.var_dir))
    app.state.targeting = targeting
    app.state.area_resolver = targeting.area_outcome
    app.state.zone_point = _zone_point(targeting.registry)
    install_error_handlers(app)
    # Delivery reports (one POST per recipient) are answered by the Mm7Inbound middleware
    # installed below; this route only sees what it passes on (e.g. a GET: 405).
    app.include_router(mm7_router(app, settings))
    app.include_router(intake_api.router)
    app.include_router(feeds_api.router)
    app.include_router(subscribers_api.router)
    console.install(app)
    app.include_router(zones_api.router)
    app.include_router(dispatch_api.router)
    app.include_router(public_api.router)
    simulator = None
    if settings.embedded_mmsc and not settings.mmsc_url:
        sim_app = create_simulator_app(simulator_config(settings))
        simulator = sim_app.state.simulator
        app.mount(SIM_PREFIX, sim_app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI for the API, from the npm lockfile's swagger-ui-dist (works offline)."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="alertcast API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        )

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Readiness (database reachable, schema up to date)",
        responses={503: {"description": "Database unreachable or its schema behind"}},
    )
    def readyz() -> JSONResponse:
        """Ready when the database answers a query and its schema is this version's."""
        try:
            ping(app.state.engine)
            lag = schema_lag(app.state.engine)
        except Exception as exc:
            raise Unavailable(f"database unreachable: {type(exc).__name__}") from exc
        if lag is not None:
            raise Unavailable(
                f"database schema is at revision {lag[0]}, this version needs {lag[1]}:"
                " run `alertcast db upgrade`"
            )
        return JSONResponse({"status": "ready", "database": "ok"})

    # Last: add_middleware puts each new middleware outside the ones before it.
    install_mm7_inbound(app, settings)
    return app
